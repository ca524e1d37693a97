"""The websocket Origin rule, on handshake scopes (tests/hostile/test_gate.py drives it through
real Daphne)."""

import pytest

from gate.origin import origin_allowed, parse_origin


def scope(*headers: tuple[str, str], scheme: str = "ws") -> dict:
    return {
        "type": "websocket",
        "scheme": scheme,
        "headers": [(name.encode(), value.encode()) for name, value in headers],
    }


@pytest.mark.parametrize(
    ("value", "parsed"),
    [
        ("http://Example.com", ("http", "example.com", 80)),
        ("https://example.com:443", ("https", "example.com", 443)),
        ("http://[::1]:8000", ("http", "::1", 8000)),
        ("null", None),
        ("", None),
        ("ws://example.com", None),
        ("http://example.com/path", None),
        ("http://user@example.com", None),
        ("http://example.com:99999", None),
        ("http://example.com:port", None),
    ],
)
def test_parse_origin(value, parsed):
    assert parse_origin(value) == parsed


def test_own_origin_with_default_ports_left_out_or_written(settings):
    settings.ALLOWED_HOSTS = ["live.example.com"]
    plain = scope(("host", "live.example.com"), ("origin", "http://live.example.com"))
    assert origin_allowed(plain)
    secure = scope(
        ("host", "live.example.com:443"), ("origin", "https://live.example.com"), scheme="wss"
    )
    assert origin_allowed(secure)


def test_a_host_outside_allowed_hosts_is_refused_even_with_a_matching_origin(settings):
    settings.ALLOWED_HOSTS = ["live.example.com"]
    assert not origin_allowed(scope(("host", "evil.example"), ("origin", "http://evil.example")))


def test_no_host_header_or_two_origins_are_refused(settings):
    settings.ALLOWED_HOSTS = ["live.example.com"]
    assert not origin_allowed(scope(("origin", "http://live.example.com")))
    two = scope(
        ("host", "live.example.com"),
        ("origin", "http://live.example.com"),
        ("origin", "http://evil.example"),
    )
    assert not origin_allowed(two)


def test_x_forwarded_proto_counts_only_behind_a_tls_proxy(settings):
    settings.ALLOWED_HOSTS = ["live.example.com"]
    forwarded = scope(
        ("host", "live.example.com"),
        ("origin", "https://live.example.com"),
        ("x-forwarded-proto", "https"),
    )
    settings.SECURE_PROXY_SSL_HEADER = None
    assert not origin_allowed(forwarded)
    settings.SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    assert origin_allowed(forwarded)


@pytest.mark.parametrize(
    ("origin", "allowed"),
    [
        ("https://app.example.com", True),
        ("https://example.com", True),
        ("http://app.example.com", False),
        ("https://app.example.com:8443", False),
        ("https://example.com.evil.example", False),
        ("https://other.test", True),
    ],
)
def test_csrf_trusted_origins_are_read_as_django_reads_them(settings, origin, allowed):
    settings.ALLOWED_HOSTS = ["live.example.com"]
    settings.CSRF_TRUSTED_ORIGINS = ["https://*.example.com", "https://other.test"]
    handshake = scope(("host", "live.example.com"), ("origin", origin), scheme="wss")
    assert origin_allowed(handshake) is allowed
