"""``python -m ivs_standin``: the IVS stand-in, for trying a private stream without AWS.

Serves one private channel live from a recorded HLS stream (``--media``: a folder with
index.m3u8, e.g. made by ffmpeg), imports a public key (``--public-key``, e.g. from
``manage.py ivs_playback_key``), and prints the lines to give the site, then ``READY``.
"""

from __future__ import annotations

import argparse
import contextlib
import signal
import sys
import threading
from pathlib import Path

from ivs_standin import IvsStandin

DEFAULT_ARN = "arn:aws:ivs:us-west-2:123456789012:channel/StandinCh4n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m ivs_standin", description=__doc__)
    parser.add_argument("--media", type=Path, required=True, help="folder with index.m3u8")
    parser.add_argument("--public-key", type=Path, help="PEM public key to import")
    parser.add_argument("--channel-arn", default=DEFAULT_ARN)
    parser.add_argument("--public", action="store_true", help="no playback authorization")
    parser.add_argument("--playback-port", type=int, default=8771)
    parser.add_argument("--control-port", type=int, default=8772)
    args = parser.parse_args(argv)

    standin = IvsStandin(playback_port=args.playback_port, control_port=args.control_port)
    if args.public_key:
        standin.import_key(args.public_key.read_text(), region=args.channel_arn.split(":")[3])
    url = standin.add_channel(args.channel_arn, args.media, private=not args.public)
    print(f"playback URL:  {url}")  # noqa: T201
    print(f"channel ARN:   {args.channel_arn}")  # noqa: T201
    print("environment for the site:")  # noqa: T201
    for name, value in standin.aws_env().items():
        print(f"  {name}={value}")  # noqa: T201
    print("READY", flush=True)  # noqa: T201

    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    with contextlib.suppress(KeyboardInterrupt):
        stop.wait()
    standin.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
