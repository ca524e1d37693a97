"""A small keep-alive HTTP/1.1 client over asyncio streams, with a cookie jar: enough to enter
an access code (CSRF cookie + token, then the form) and fetch pages, many clients at once."""

from __future__ import annotations

import asyncio
import re
from dataclasses import dataclass
from urllib.parse import urlencode, urlsplit

CSRF_INPUT = re.compile(rb'name="csrfmiddlewaretoken" value="([^"]+)"')


@dataclass
class Response:
    status: int
    headers: dict[str, list[str]]
    body: bytes

    def header(self, name: str) -> str | None:
        values = self.headers.get(name.lower())
        return values[0] if values else None


class HttpClient:
    """One connection, reused for every request (reopened if the server closes it)."""

    def __init__(self, base_url: str) -> None:
        parts = urlsplit(base_url)
        self.host, self.port = parts.hostname, parts.port
        self.origin = base_url
        self.cookies: dict[str, str] = {}
        self._reader: asyncio.StreamReader | None = None
        self._writer: asyncio.StreamWriter | None = None

    async def request(self, method: str, path: str, form: dict[str, str] | None = None) -> Response:
        if self._writer is None:
            self._reader, self._writer = await asyncio.open_connection(self.host, self.port)
        body = urlencode(form).encode() if form is not None else b""
        lines = [f"{method} {path} HTTP/1.1", f"Host: {self.host}:{self.port}"]
        if self.cookies:
            lines.append("Cookie: " + "; ".join(f"{k}={v}" for k, v in self.cookies.items()))
        if form is not None:
            lines += [
                "Content-Type: application/x-www-form-urlencoded",
                f"Content-Length: {len(body)}",
                f"Origin: {self.origin}",
                f"Referer: {self.origin}{path}",
            ]
        self._writer.write(("\r\n".join(lines) + "\r\n\r\n").encode() + body)
        response = await self._read_response()
        for cookie in response.headers.get("set-cookie", []):
            name, _, value = cookie.split(";", 1)[0].partition("=")
            self.cookies[name.strip()] = value.strip()
        if (response.header("connection") or "").lower() == "close":
            await self.close()
        return response

    async def _read_response(self) -> Response:
        head = await self._reader.readuntil(b"\r\n\r\n")
        status_line, *header_lines = head.decode("latin-1").split("\r\n")
        headers: dict[str, list[str]] = {}
        for line in header_lines:
            if line:
                name, _, value = line.partition(":")
                headers.setdefault(name.strip().lower(), []).append(value.strip())
        response = Response(int(status_line.split()[1]), headers, b"")
        if "content-length" in headers:
            response.body = await self._reader.readexactly(int(headers["content-length"][0]))
        elif "chunked" in (response.header("transfer-encoding") or ""):
            chunks = []
            while size := int((await self._reader.readline()).split(b";")[0], 16):
                chunks.append(await self._reader.readexactly(size))
                await self._reader.readline()
            await self._reader.readline()
            response.body = b"".join(chunks)
        return response

    async def close(self) -> None:
        if self._writer is not None:
            self._writer.close()
            self._writer = None

    async def enter(self, code: str) -> Response:
        """The entry form as a browser fills it: GET for the CSRF cookie and token, then POST."""
        page = await self.request("GET", "/enter/")
        token = CSRF_INPUT.search(page.body)
        if page.status != 200 or token is None:
            raise RuntimeError(f"GET /enter/ gave {page.status} without a CSRF token")
        return await self.request(
            "POST", "/enter/", {"csrfmiddlewaretoken": token.group(1).decode(), "code": code}
        )


async def session_for(base_url: str, code: str) -> str:
    """Enter ``code`` and return the ``sessionid`` cookie that now holds the grant."""
    client = HttpClient(base_url)
    try:
        response = await client.enter(code)
        if response.status != 302 or "sessionid" not in client.cookies:
            raise RuntimeError(f"entering the code gave {response.status}, not a redirect")
        return client.cookies["sessionid"]
    finally:
        await client.close()
