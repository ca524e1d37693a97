import html
import re
from datetime import timedelta

import pytest
from django.test import Client
from django.utils import timezone

from captions.models import Caption

pytestmark = pytest.mark.django_db

LONG = (
    "This sentence is deliberately long enough that it cannot fit on two lines of "
    "forty-two characters, so it must become more than one cue."
)


@pytest.fixture
def captions(stream):
    began = timezone.now() - timedelta(minutes=5)
    later = began + timedelta(seconds=100)
    rows = [
        ("Hello and welcome.", 1.2, 2.5, began),
        ("Fish & chips <b>tonight</b> --> yes", 3.0, 4.0, began),
        (LONG, 5.0, 12.0, began),
        ("A second session starts.", 0.5, 1.5, later),
    ]
    return [
        Caption.store(stream, text=text, start=start, end=end, session_started_at=at)
        for text, start, end, at in rows
    ]


VTT_TIME = r"(\d\d):(\d\d):(\d\d)\.(\d\d\d)"


def seconds(match: tuple[str, ...]) -> float:
    h, m, s, ms = (int(x) for x in match)
    return h * 3600 + m * 60 + s + ms / 1000


def parse_cues(body: str, separator: str) -> list[tuple[int, float, float, list[str]]]:
    time = VTT_TIME.replace(r"\.", separator)
    cues = []
    for block in body.strip().split("\n\n"):
        lines = block.split("\n")
        if lines[0] == "WEBVTT":
            continue
        number = int(lines[0])
        times = re.fullmatch(f"{time} --> {time}", lines[1])
        assert times, lines[1]
        groups = times.groups()
        cues.append((number, seconds(groups[:4]), seconds(groups[4:]), lines[2:]))
    return cues


def test_webvtt_is_valid_and_readable(watching, captions):
    response = watching.get("/watch/keynote/transcript.vtt")
    assert response.status_code == 200
    assert response["Content-Type"] == "text/vtt; charset=utf-8"
    assert 'filename="keynote-transcript.vtt"' in response["Content-Disposition"]
    body = response.content.decode()
    assert body.startswith("WEBVTT\n\n")
    cues = parse_cues(body, r"\.")
    assert [number for number, *_ in cues] == list(range(1, len(cues) + 1))
    assert cues[0][1:] == (1.2, 2.5, ["Hello and welcome."])
    assert cues[1][3] == ["Fish &amp; chips &lt;b&gt;tonight&lt;/b&gt; --&gt; yes"]
    for _, start, end, lines in cues:
        assert end > start
        assert 1 <= len(lines) <= 2
        assert all(len(html.unescape(line)) <= 42 for line in lines)  # as displayed
    long_cues = [c for c in cues if c[1] >= 5.0 and c[2] <= 12.0]
    assert len(long_cues) >= 2
    assert " ".join(" ".join(c[3]) for c in long_cues) == LONG
    starts = [start for _, start, *_ in cues]
    assert starts == sorted(starts)
    assert cues[-1][1:3] == (100.5, 101.5)  # the second session sits 100 s after the first


def test_srt_is_valid(watching, captions):
    response = watching.get("/watch/keynote/transcript.srt")
    assert response["Content-Type"] == "application/x-subrip; charset=utf-8"
    cues = parse_cues(response.content.decode(), ",")
    assert cues[0] == (1, 1.2, 2.5, ["Hello and welcome."])
    assert cues[1][3] == ["Fish & chips <b>tonight</b> --> yes"]
    assert all(len(lines) <= 2 and all(len(x) <= 42 for x in lines) for *_, lines in cues)


def test_plain_text_has_every_final_in_order(watching, captions):
    response = watching.get("/watch/keynote/transcript.txt")
    assert response["Content-Type"] == "text/plain; charset=utf-8"
    assert response.content.decode().splitlines() == [c.text for c in captions]


def test_an_empty_transcript_is_still_valid(watching, stream):
    assert watching.get("/watch/keynote/transcript.vtt").content == b"WEBVTT\n\n"
    assert watching.get("/watch/keynote/transcript.srt").content == b""


@pytest.mark.parametrize("fmt", ["vtt", "srt", "txt"])
def test_transcripts_need_a_grant_for_that_stream(fmt, captions, make_stream, make_code):
    assert Client().get(f"/watch/keynote/transcript.{fmt}").status_code == 403
    other = make_stream(slug="other")
    make_code("OTHER-CODE", stream=other)
    elsewhere = Client()
    elsewhere.post("/enter/", {"code": "OTHER-CODE"})
    assert elsewhere.get(f"/watch/keynote/transcript.{fmt}").status_code == 403
    assert elsewhere.get(f"/watch/other/transcript.{fmt}").status_code == 200


def test_clearing_captions_is_an_admin_action_and_numbers_continue(
    client, django_user_model, stream, captions
):
    admin = django_user_model.objects.create_superuser("admin", "a@example.com", "pw-123456")
    client.force_login(admin)
    listing = client.get(f"/admin/captions/caption/?stream__id__exact={stream.pk}")
    assert "Hello and welcome." in listing.text
    response = client.post(
        "/admin/livestream/stream/",
        {"action": "clear_captions", "_selected_action": [stream.pk]},
        follow=True,
    )
    assert "Cleared 4 caption(s) from 1 stream(s)." in response.text
    assert not Caption.objects.exists()
    stream.refresh_from_db()
    fresh = Caption.store(stream, text="Again.", start=0, end=1, session_started_at=timezone.now())
    assert fresh.seq == 5
