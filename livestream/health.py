"""``/healthz`` for load balancers, answered before anything else looks at the request.

A load balancer probes each server process directly, over plain HTTP, with a ``Host`` of its
own (often an address, not the site's name). Through the usual middleware that probe would get
an HTTPS redirect (``SECURE_SSL_REDIRECT``) or a 400 (``ALLOWED_HOSTS``) and mark a healthy
process down. The answer holds nothing but whether the database (and Redis) respond.
"""

from django.http import HttpRequest, HttpResponse


class HealthCheckFirst:
    def __init__(self, get_response) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if request.path == "/healthz" and request.method in ("GET", "HEAD"):
            from livestream.views import healthz

            return healthz(request)
        return self.get_response(request)
