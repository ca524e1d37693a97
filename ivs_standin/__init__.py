"""A local stand-in for Amazon IVS: private-channel playback and the control API.

Two HTTP servers on 127.0.0.1, as IVS has two faces:

- **playback** (``IvsStandin.playback_url(arn)``): a channel's multivariant playlist, checked
  like IVS checks it on a private channel (ivs_standin/tokens.py), then a live HLS stream made
  from a recording on a loop (ivs_standin/live.py). Revoked viewers are cut off mid-stream.
- **control** (``IvsStandin.endpoint``, for ``AWS_ENDPOINT_URL_IVS``): SigV4-signed restJson1,
  ``StartViewerSessionRevocation`` and the playback-key operations (ivs_standin/control.py).

The site talks to both exactly as it talks to IVS; only the addresses differ. Tests read what
happened (``calls``, ``requests``, ``revoked``) and make faults (``fail_next``,
``end_sessions``). ``python -m ivs_standin`` runs it for trying private streams by hand.
"""

from __future__ import annotations

import threading
from http.server import ThreadingHTTPServer
from pathlib import Path

from ivs_standin.control import ControlHandler
from ivs_standin.live import LiveLoop
from ivs_standin.playback import PlaybackHandler
from ivs_standin.state import ACCOUNT, Call, Channel, Fault, IvsState, PlaybackRequest

__all__ = ["ACCOUNT", "Call", "IvsStandin", "PlaybackRequest"]

ACCESS_KEY = "AKIDSTANDIN000000000"
SECRET_KEY = "standin-secret-key-not-a-real-one"  # noqa: S105


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def handle_error(self, request, client_address) -> None:
        pass  # players drop connections mid-segment; the stand-in has nothing to add


class IvsStandin:
    def __init__(
        self,
        *,
        access_key: str = ACCESS_KEY,
        secret_key: str = SECRET_KEY,
        host: str = "127.0.0.1",
        playback_port: int = 0,
        control_port: int = 0,
    ) -> None:
        self.state = IvsState(credentials={access_key: secret_key})
        self.access_key, self.secret_key = access_key, secret_key
        self._loops: dict[str, LiveLoop] = {}
        playback = type("Handler", (PlaybackHandler,), {"state": self.state, "loops": self._loops})
        control = type("Handler", (ControlHandler,), {"state": self.state})
        self._servers = [
            _Server((host, playback_port), playback),
            _Server((host, control_port), control),
        ]
        self.playback_base = "http://{}:{}".format(*self._servers[0].server_address[:2])
        self.endpoint = "http://{}:{}".format(*self._servers[1].server_address[:2])
        for server in self._servers:
            threading.Thread(target=server.serve_forever, daemon=True, name="ivs-standin").start()

    def stop(self) -> None:
        for server in self._servers:
            server.shutdown()
            server.server_close()

    def __enter__(self) -> IvsStandin:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def aws_env(self) -> dict[str, str]:
        """The environment that points boto3 (the site, a management command) here."""
        return {
            "AWS_ENDPOINT_URL_IVS": self.endpoint,
            "AWS_ACCESS_KEY_ID": self.access_key,
            "AWS_SECRET_ACCESS_KEY": self.secret_key,
            "AWS_DEFAULT_REGION": "us-west-2",
            "AWS_EC2_METADATA_DISABLED": "true",
        }

    def add_channel(self, arn: str, media: Path, *, private: bool = True) -> str:
        """Serve ``media`` (a folder with index.m3u8) live as channel ``arn``; its playback URL."""
        channel = Channel(arn, private, Path(media))
        with self.state.lock:
            self.state.channels[arn] = channel
            self._loops[arn] = LiveLoop(channel.media)
        return self.playback_url(arn)

    def playback_url(self, arn: str) -> str:
        return self.playback_base + self.state.channels[arn].playback_path

    def set_live(self, arn: str, live: bool) -> None:
        with self.state.lock:
            self.state.channels[arn].live = live

    def end_sessions(self, arn: str) -> int:
        return self.state.end_sessions(arn)

    def fail_next(self, operation: str, error: str, times: int = 1) -> None:
        """The next ``times`` calls of ``operation`` fail with ``error`` (or ``"drop"``)."""
        with self.state.lock:
            self.state.faults.append(Fault(operation, error, times))

    def import_key(self, public_pem: str, region: str = "us-west-2") -> str:
        from cryptography.hazmat.primitives.serialization import load_pem_public_key

        return self.state.import_key(region, "test", load_pem_public_key(public_pem.encode())).arn

    @property
    def calls(self) -> list[Call]:
        with self.state.lock:
            return list(self.state.calls)

    @property
    def requests(self) -> list[PlaybackRequest]:
        with self.state.lock:
            return list(self.state.requests)

    @property
    def revoked(self) -> dict[tuple[str, str], int]:
        with self.state.lock:
            return dict(self.state.revoked)
