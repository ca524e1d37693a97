"""What the player page's script needs: where the IVS SDK is, what to play, and the CSP."""

from urllib.parse import urlsplit

from django.conf import settings
from django.templatetags.static import static
from django.urls import reverse

from ivs.tokens import PlaybackToken
from livestream.models import Stream

LOCAL_SDK = "local"


def _origin(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}" if parts.scheme and parts.netloc else ""


def sdk_config() -> dict[str, str]:
    """URLs of the IVS SDK: its pinned CDN script, or the copy built from npm into static/."""
    url = settings.IVS_PLAYER_SCRIPT_URL
    if url == LOCAL_SDK:
        return {
            "script": static("ivs/amazon-ivs-player.js"),
            "wasmWorker": static("ivs/amazon-ivs-wasmworker.min.js"),
            "wasmBinary": static("ivs/amazon-ivs-wasmworker.min.wasm"),
        }
    return {"script": url, "wasmWorker": "", "wasmBinary": ""}


def player_config(stream: Stream, playback: PlaybackToken | None = None) -> dict[str, object]:
    """What the page's scripts need. A private stream's URL carries this viewer's token
    (``playback``; empty when none could be made) and the page asks ``playbackEndpoint`` for a
    fresh one whenever the player loads again (static/js/playback.js)."""
    config: dict[str, object] = {
        "playbackUrl": stream.playback_url,
        "ivs": sdk_config(),
        "hlsJs": static("vendor/hls.js/hls.min.js"),
        "private": stream.is_private,
    }
    if stream.is_private:
        config["playbackUrl"] = playback.url if playback else ""
        config["playbackExpiresIn"] = playback.expires_in if playback else 0
        config["playbackEndpoint"] = reverse("playback", args=[stream.slug])
    return config


def csp_extra(stream: Stream) -> dict[str, list[str]]:
    """Sources the player page needs beyond this site."""
    playback = _origin(stream.playback_url)
    sdk = _origin(settings.IVS_PLAYER_SCRIPT_URL)
    # IVS serves video from *.live-video.net and the SDK reports playback quality there.
    ivs_hosts = ["https://*.live-video.net"]
    media = [src for src in [playback, *ivs_hosts] if src]
    return {
        # The SDK runs its player core as WebAssembly.
        "script-src": [src for src in [sdk] if src] + ["'wasm-unsafe-eval'"],
        "worker-src": [src for src in [sdk] if src],
        "connect-src": [*media, *([sdk] if sdk else [])],
        "media-src": media,
        "img-src": media,
    }
