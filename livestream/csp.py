"""Content-Security-Policy for every response.

The base policy allows only this site. A view that needs more (the player page: the IVS SDK,
the stream's playback host) sets ``response.csp_extra = {"connect-src": [...], ...}``.
"""

from collections.abc import Callable

from django.http import HttpRequest, HttpResponse

BASE_POLICY: dict[str, list[str]] = {
    "default-src": ["'self'"],
    "script-src": ["'self'"],
    "style-src": ["'self'"],
    "img-src": ["'self'", "data:"],
    "media-src": ["'self'", "blob:"],
    "connect-src": ["'self'"],
    "worker-src": ["'self'", "blob:"],
    "font-src": ["'self'"],
    "object-src": ["'none'"],
    "base-uri": ["'none'"],
    "form-action": ["'self'"],
    "frame-ancestors": ["'none'"],
}


def build_policy(extra: dict[str, list[str]] | None = None) -> str:
    directives = {name: list(sources) for name, sources in BASE_POLICY.items()}
    for name, sources in (extra or {}).items():
        merged = directives.setdefault(name, [])
        merged.extend(source for source in sources if source not in merged)
    return "; ".join(f"{name} {' '.join(sources)}" for name, sources in directives.items())


class ContentSecurityPolicyMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        if "Content-Security-Policy" not in response:
            response["Content-Security-Policy"] = build_policy(getattr(response, "csp_extra", None))
        return response
