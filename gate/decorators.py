from collections.abc import Callable
from functools import wraps
from urllib.parse import urlencode

from django.contrib import messages
from django.http import (
    Http404,
    HttpRequest,
    HttpResponse,
    HttpResponseForbidden,
    HttpResponseRedirect,
)
from django.urls import reverse

from gate import grant as grants
from livestream.models import Stream

REVOKED_MESSAGE = "Your access code no longer works. Enter a current code to keep watching."


def grant_required(
    view: Callable[..., HttpResponse] | None = None, *, forbid: bool = False
) -> Callable[..., HttpResponse]:
    """Admit only sessions holding a grant for the stream named by the ``slug`` argument.

    The view receives the ``Stream`` instead of the slug, and ``request.grant`` is set.
    Without a grant: to the entry page, coming back here afterwards — or, with
    ``forbid=True`` (downloads, which a browser fetches without showing a page), 403.
    A slug naming no stream gets that same answer, so stream names cannot be probed; only
    staff, who may see every stream anyway, get a 404 for it.
    """

    def decorate(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
        @wraps(view)
        def wrapper(request: HttpRequest, slug: str, *args, **kwargs) -> HttpResponse:
            stream = Stream.objects.filter(slug=slug).first()
            stream_id = stream.pk if stream is not None else None
            grant, outcome = grants.check(request.session, request.user, stream_id)
            if grant is None:
                if forbid:
                    return HttpResponseForbidden("You need an access code for this stream.")
                if outcome == grants.Outcome.REVOKED:
                    messages.warning(request, REVOKED_MESSAGE)
                query = urlencode({"next": request.get_full_path()})
                return HttpResponseRedirect(f"{reverse('enter')}?{query}")
            if stream is None:
                raise Http404("No such stream.")
            request.grant = grant
            return view(request, stream, *args, **kwargs)

        return wrapper

    return decorate(view) if view is not None else decorate
