"""Fixtures for private streams: a signing key, the IVS stand-in, a private stream.

``playback_key`` (the site's key, set in settings), ``standin`` (ivs_standin.IvsStandin with
``playback_key``'s public key imported and boto3 pointed at it through AWS_ENDPOINT_URL_IVS and
dummy credentials), ``private_stream`` (a stream on the stand-in's private channel),
``watching_private`` (a client that entered a viewer code of it). Revocations are sent by
calling ``revocations.process_due()`` (the worker thread is off in these tests).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from gate.models import AccessCode, Role
from ivs import client as ivs_client
from ivs import keys
from ivs_standin import IvsStandin
from livestream.models import Stream

CHANNEL_ARN = "arn:aws:ivs:us-west-2:123456789012:channel/PrivCh4nnel1"
OTHER_ARN = "arn:aws:ivs:us-west-2:123456789012:channel/OtherCh4nnel"


def fake_recording(directory: Path, segments: int = 3) -> Path:
    """A recording the stand-in can loop: a playlist and segment files (not real video: these
    tests read playlists and bytes, no player decodes them)."""
    directory.mkdir(parents=True, exist_ok=True)
    lines = ["#EXTM3U", "#EXT-X-TARGETDURATION:2", "#EXT-X-PLAYLIST-TYPE:VOD"]
    for n in range(segments):
        (directory / f"seg{n:03d}.ts").write_bytes(f"segment {n}".encode())
        lines += ["#EXTINF:2.000000,", f"seg{n:03d}.ts"]
    (directory / "index.m3u8").write_text("\n".join([*lines, "#EXT-X-ENDLIST", ""]))
    return directory


@pytest.fixture(autouse=True)
def _no_worker_thread(settings):
    settings.IVS_REVOCATION_WORKER = "off"
    settings.IVS_REVOCATION_BACKOFF = 2.0


@pytest.fixture
def playback_key(settings):
    key = keys.generate()
    settings.IVS_PLAYBACK_PRIVATE_KEY = keys.private_pem(key).decode()
    return key


@pytest.fixture
def standin(playback_key, monkeypatch, tmp_path) -> Iterator[IvsStandin]:
    with IvsStandin() as standin:
        for name, value in standin.aws_env().items():
            monkeypatch.setenv(name, value)
        monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)
        monkeypatch.delenv("AWS_PROFILE", raising=False)
        ivs_client.client.cache_clear()
        standin.import_key(keys.public_pem(playback_key))
        media = fake_recording(tmp_path / "recording")
        standin.add_channel(CHANNEL_ARN, media)
        standin.add_channel(OTHER_ARN, media)
        yield standin
    ivs_client.client.cache_clear()


@pytest.fixture
def private_stream(db, standin) -> Stream:
    return Stream.objects.create(
        title="Board meeting",
        slug="board",
        playback_url=standin.playback_url(CHANNEL_ARN),
        is_private=True,
        channel_arn=CHANNEL_ARN,
    )


@pytest.fixture
def private_code(private_stream) -> AccessCode:
    return AccessCode.objects.create(stream=private_stream, code="BOARD-2026", role=Role.VIEWER)


@pytest.fixture
def watching_private(client, enter, private_code):
    assert enter("BOARD-2026").status_code == 302
    return client
