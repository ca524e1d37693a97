import logging

from django.contrib import messages
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.middleware.csrf import rotate_token
from django.shortcuts import render
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_http_methods, require_POST

from gate import grant as grants
from gate import ratelimit
from gate.client_ip import client_ip
from gate.forms import EntryForm
from gate.models import AccessCode, normalize_code
from livestream.metrics import GATE_ATTEMPTS

logger = logging.getLogger(__name__)

GENERIC_ERROR = "That code doesn’t work. Check it and try again."
RATE_LIMITED = "Too many attempts. Please wait a few minutes before trying again."


def _safe_next(request: HttpRequest, target: str) -> str | None:
    if target and url_has_allowed_host_and_scheme(
        target, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return target
    return None


def _admit(request: HttpRequest, code: AccessCode) -> bool:
    """Count the use and store the grant; False when the code stopped working meanwhile.

    Entering the code this session already holds again does not count another use.
    """
    current = grants.read(request.session)
    already_in = current is not None and current.code_id == code.pk
    if not already_in and not code.redeem():
        return False
    request.session.cycle_key()
    rotate_token(request)
    grants.store(request.session, code)
    logger.info("access code %s admitted a %s to stream %s", code.pk, code.role, code.stream_id)
    return True


@never_cache
@require_http_methods(["GET", "POST"])
def enter(request: HttpRequest) -> HttpResponse:
    if request.method == "GET":
        # An invite link (/enter/?code=…) fills the form in; entering still takes a POST.
        code = request.GET.get("code", "")[:64]
        form = EntryForm(initial={"next": request.GET.get("next", ""), "code": code})
        return render(request, "gate/enter.html", {"form": form})

    form = EntryForm(request.POST)
    if not form.is_valid():
        return render(request, "gate/enter.html", {"form": form}, status=400)

    ip = client_ip(request)
    normalized = normalize_code(form.cleaned_data["code"])
    per_ip = ratelimit.ip_limit(ip)
    per_code = ratelimit.ip_code_limit(ip, normalized)
    # Count first, then decide from the counts (see gate/ratelimit.py). The per-IP count is a
    # failure reserved in advance, given back when the attempt turns out not to be one.
    over = [limit for limit in (per_ip, per_code) if ratelimit.take(limit) > limit.allowed]
    if over:
        ratelimit.give_back(per_ip)  # refused unchecked: not a failed guess
        GATE_ATTEMPTS.labels(outcome="limited").inc()
        form.add_error("code", RATE_LIMITED)
        response = render(request, "gate/enter.html", {"form": form}, status=429)
        response["Retry-After"] = str(max(limit.retry_after() for limit in over))
        return response

    code = AccessCode.objects.select_related("stream").filter(code=normalized).first()
    admitted = code is not None and code.admits() and _admit(request, code)
    if not admitted:
        GATE_ATTEMPTS.labels(outcome="refused").inc()
        form.add_error("code", GENERIC_ERROR)
        return render(request, "gate/enter.html", {"form": form})

    ratelimit.give_back(per_ip)
    GATE_ATTEMPTS.labels(outcome="admitted").inc()
    target = _safe_next(request, form.cleaned_data["next"]) or code.stream.get_absolute_url()
    return HttpResponseRedirect(target)


@require_POST
def leave(request: HttpRequest) -> HttpResponse:
    grants.drop(request.session)
    request.session.cycle_key()
    messages.info(request, "You have left the stream.")
    return HttpResponseRedirect(reverse("enter"))
