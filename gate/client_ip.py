"""Which address a request comes from, for rate limiting.

``X-Forwarded-For`` is written by whoever sends the request, so by default it is ignored and
the connection's peer address is used. Behind reverse proxies, set ``TRUSTED_PROXY_COUNT`` to
the number of proxies that append to the header: the client is then the address the outermost
trusted proxy saw (the ``TRUSTED_PROXY_COUNT``-th entry from the right). Anything further left
was written by the client and is never trusted.
"""

from django.conf import settings


def from_forwarded(peer: str, forwarded_for: str | None) -> str:
    trusted = settings.TRUSTED_PROXY_COUNT
    if trusted <= 0 or not forwarded_for:
        return peer
    hops = [hop.strip() for hop in forwarded_for.split(",") if hop.strip()]
    if len(hops) < trusted:
        return hops[0] if hops else peer
    return hops[-trusted]


def client_ip(request) -> str:
    return from_forwarded(
        request.META.get("REMOTE_ADDR", ""), request.META.get("HTTP_X_FORWARDED_FOR")
    )
