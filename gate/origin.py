"""The websocket Origin check: handshakes only from this site's own pages.

Browsers send cookies with a cross-site websocket handshake, so a page elsewhere could open
the caption sockets with a viewer's session (cross-site websocket hijacking). Channels'
``AllowedHostsOriginValidator`` compares only the Origin's host name with ``ALLOWED_HOSTS``:
another scheme or port on the same host passes. This applies the rule Django's CSRF check
applies to form posts: the Origin must be this request's own origin — ``https`` when the
connection is secure (``wss``, or ``X-Forwarded-Proto: https`` behind a TLS proxy), the host and
port from the ``Host`` header, which must be in ``ALLOWED_HOSTS`` — or be listed in
``CSRF_TRUSTED_ORIGINS``. Anything else (a missing Origin, ``null``, a foreign host, the right
host with another scheme or port) is refused before accept, with HTTP 403.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

from channels.security.websocket import WebsocketDenier
from django.conf import settings
from django.http.request import is_same_domain, split_domain_port, validate_host

_DEFAULT_PORTS = {"http": 80, "https": 443}

Origin = tuple[str, str, int]  # scheme, host (lower case), port


def parse_origin(value: str) -> Origin | None:
    """``scheme://host[:port]`` as a comparable triple (default port filled in), else None."""
    try:
        parts = urlsplit(value)
        port = parts.port
    except ValueError:  # a port that is not a number, or out of range
        return None
    if parts.scheme not in _DEFAULT_PORTS or not parts.hostname:
        return None
    if parts.path or parts.query or parts.fragment or parts.username or parts.password:
        return None  # an Origin is only ever scheme, host and port
    return parts.scheme, parts.hostname, port or _DEFAULT_PORTS[parts.scheme]


def _header(scope: dict[str, Any], name: bytes) -> str | None:
    """The header's only value; None when it is missing or sent more than once."""
    values = [value for key, value in scope.get("headers", []) if key.lower() == name]
    if len(values) != 1:
        return None
    try:
        return values[0].decode("ascii")
    except UnicodeDecodeError:
        return None


def _is_secure(scope: dict[str, Any]) -> bool:
    if scope.get("scheme") == "wss":
        return True
    proxy_header = getattr(settings, "SECURE_PROXY_SSL_HEADER", None)
    if proxy_header:
        meta_name, secure_value = proxy_header
        header = meta_name.removeprefix("HTTP_").replace("_", "-").lower().encode()
        forwarded = _header(scope, header)
        return forwarded is not None and forwarded.split(",")[0].strip() == secure_value
    return False


def own_origin(scope: dict[str, Any]) -> Origin | None:
    """This handshake's own origin, from its ``Host`` header; None if that host is not ours."""
    host = _header(scope, b"host")
    if not host:
        return None
    domain, _ = split_domain_port(host)
    if not domain or not validate_host(domain, settings.ALLOWED_HOSTS):
        return None
    scheme = "https" if _is_secure(scope) else "http"
    return parse_origin(f"{scheme}://{host}")


def _trusted(origin: Origin) -> bool:
    """Listed in ``CSRF_TRUSTED_ORIGINS``, read as Django's CSRF check reads it."""
    scheme, host, port = origin
    for entry in settings.CSRF_TRUSTED_ORIGINS:
        if "://*." in entry:  # a domain and its subdomains: https://*.example.com
            pattern = parse_origin(entry.replace("://*.", "://", 1))
            if pattern is None:
                continue
            trusted_scheme, trusted_domain, trusted_port = pattern
            if (trusted_scheme, trusted_port) == (scheme, port) and is_same_domain(
                host, f".{trusted_domain}"
            ):
                return True
        elif parse_origin(entry) == origin:
            return True
    return False


def origin_allowed(scope: dict[str, Any]) -> bool:
    """Whether a websocket handshake's ``Origin`` is this site's own (or a trusted) origin."""
    own = own_origin(scope)
    if own is None:
        return False
    value = _header(scope, b"origin")
    origin = parse_origin(value) if value else None
    if origin is None:  # missing, "null", or not an origin at all
        return False
    return origin == own or _trusted(origin)


class SameOriginValidator:
    """ASGI middleware: refuses (HTTP 403) websocket handshakes failing ``origin_allowed``."""

    def __init__(self, application: Any) -> None:
        self.application = application

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> Any:
        if scope["type"] == "websocket" and not origin_allowed(scope):
            return await WebsocketDenier()(scope, receive, send)
        return await self.application(scope, receive, send)
