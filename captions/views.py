from django.contrib.auth.decorators import permission_required
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import get_object_or_404
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_POST

from captions import corrections
from captions.models import Caption
from captions.transcripts import FORMATS
from gate.decorators import grant_required
from livestream.models import Stream


@never_cache
@require_GET
@grant_required(forbid=True)
def transcript(request: HttpRequest, stream: Stream, fmt: str) -> HttpResponse:
    render, content_type = FORMATS[fmt]
    captions = Caption.objects.for_stream(stream.pk).iterator()
    response = HttpResponse(render(captions), content_type=content_type)
    response["Content-Disposition"] = f'attachment; filename="{stream.slug}-transcript.{fmt}"'
    return response


@require_POST
@permission_required("captions.change_caption", raise_exception=True)
def correct_caption(request: HttpRequest, slug: str, seq: int) -> JsonResponse:
    """Staff correct (``text``) or remove (``remove=1``) a final from the player page."""
    caption = get_object_or_404(
        Caption.objects.select_related("stream"), stream__slug=slug, seq=seq
    )
    try:
        if request.POST.get("remove"):
            corrections.remove(caption, request.user)
        else:
            corrections.correct(caption, request.POST.get("text", ""), request.user)
    except corrections.NothingToCorrect as problem:
        return JsonResponse({"error": str(problem)}, status=400)
    return JsonResponse(caption.as_message(Caption.objects.timeline_origin(caption.stream_id)))
