from django.http import HttpRequest, HttpResponse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

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
