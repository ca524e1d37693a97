"""What the admin sign-in page answers once django-axes has blocked a client (HTTP 429)."""

from __future__ import annotations

import math

from axes.helpers import get_cool_off
from django.contrib import admin
from django.http import HttpRequest, HttpResponse
from django.template.response import TemplateResponse


def locked_out(
    request: HttpRequest,
    original_response: HttpResponse | None = None,
    credentials: dict | None = None,
) -> HttpResponse:
    """``AXES_LOCKOUT_CALLABLE``: the blocked page, with ``Retry-After`` set to the cool-off."""
    cool_off = get_cool_off(request)
    seconds = max(1, math.ceil(cool_off.total_seconds())) if cool_off else 3600
    context = {
        **admin.site.each_context(request),
        "title": "Sign-in blocked",
        "cooloff_minutes": math.ceil(seconds / 60),
    }
    response = TemplateResponse(request, "admin/locked_out.html", context, status=429)
    response["Retry-After"] = str(seconds)
    return response.render()
