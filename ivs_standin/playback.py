"""IVS playback: a channel's multivariant playlist, then its session's media.

``GET /api/video/v1/<region>.<account>.channel.<id>.m3u8[?token=…]`` starts a session: on a
private channel only with a token that admits it (ivs_standin/tokens.py), else 403 with the
reason in ``x-standin-refused`` (IVS says less). The answer lists one rendition under
``/session/<id>/``, whose playlist and segments are served while the session lasts: a viewer
whose session is revoked gets 403 from the next request on, as IVS stops a revoked viewer. The
token is checked only here, once, as IVS does: playback continues past its ``exp``.
"""

from __future__ import annotations

import re
from http.server import BaseHTTPRequestHandler
from urllib.parse import parse_qs, urlsplit

from ivs_standin import tokens
from ivs_standin.live import LiveLoop
from ivs_standin.state import IvsState, PlaybackRequest

_SESSION = re.compile(r"/session/(?P<id>[\w-]+)/(?:(?P<playlist>live\.m3u8)|(?P<n>\d+)\.ts)")


class PlaybackHandler(BaseHTTPRequestHandler):
    server_version = "IVSStandin/1"
    state: IvsState
    loops: dict[str, LiveLoop]

    def log_message(self, format: str, *args: object) -> None:
        pass

    def _answer(self, status: int, body: bytes, content_type: str, reason: str = "") -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Cache-Control", "no-cache")
        self.send_header("Access-Control-Allow-Origin", self.headers.get("Origin") or "*")
        self.send_header("Access-Control-Expose-Headers", "x-standin-refused")
        if reason:
            self.send_header("x-standin-refused", reason)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def _refuse(self, status: int, reason: str, viewer_id: str = "") -> None:
        self._record(status, reason, viewer_id)
        self._answer(status, reason.encode(), "text/plain", reason)

    def _record(self, status: int, reason: str, viewer_id: str) -> None:
        origin = self.headers.get("Origin", "")
        self.state.record(PlaybackRequest(self.path, status, reason, viewer_id, origin))

    def do_OPTIONS(self) -> None:
        self.send_response(204)
        self.send_header("Access-Control-Allow-Origin", self.headers.get("Origin") or "*")
        self.send_header("Access-Control-Allow-Methods", "GET, HEAD, OPTIONS")
        self.send_header("Access-Control-Allow-Headers", "*")
        self.send_header("Content-Length", "0")
        self.end_headers()

    def do_GET(self) -> None:
        url = urlsplit(self.path)
        match = _SESSION.fullmatch(url.path)
        if match:
            self._session_media(match)
        else:
            self._multivariant(url.path, parse_qs(url.query).get("token", [""])[0])

    do_HEAD = do_GET

    def _multivariant(self, path: str, token: str) -> None:
        channel = self.state.channel_at(path)
        if channel is None or not channel.live:
            self._refuse(404, "channel not found or not live")
            return
        viewer_id, version = "", 0
        if channel.authorized:
            with self.state.lock:
                keys = [pair.public_key for pair in self.state.keys.values()]
            try:
                claims = tokens.check(
                    token, channel.arn, keys, self.headers.get("Origin", ""), self.state.now()
                )
            except tokens.Refused as refused:
                self._refuse(403, str(refused))
                return
            viewer_id = claims.get("aws:viewer-id", "")
            version = claims.get("aws:viewer-session-version", 0)
            if self.state.is_revoked(channel.arn, viewer_id, version):
                self._refuse(403, "viewer session revoked", viewer_id)
                return
        session = self.state.start_session(channel, viewer_id, version)
        self._record(200, "", viewer_id)
        body = (
            "#EXTM3U\n#EXT-X-VERSION:3\n"
            "#EXT-X-STREAM-INF:BANDWIDTH=1000000,RESOLUTION=640x360\n"
            f"/session/{session.id}/live.m3u8\n"
        )
        self._answer(200, body.encode(), "application/vnd.apple.mpegurl")

    def _session_media(self, match: re.Match) -> None:
        with self.state.lock:
            session = self.state.sessions.get(match["id"])
        if session is None or session.ended:
            self._refuse(404, "no such playback session (the channel restarted?)")
            return
        if self.state.is_revoked(session.channel_arn, session.viewer_id, session.version):
            self._refuse(403, "viewer session revoked", session.viewer_id)
            return
        loop = self.loops[session.channel_arn]
        if match["playlist"]:
            self._answer(200, loop.playlist().encode(), "application/vnd.apple.mpegurl")
            return
        data = loop.segment(int(match["n"]))
        if data is None:
            self._refuse(404, "segment not available")
        else:
            self._answer(200, data, "video/mp2t")
