"""Staff fix a caption, and every viewer sees the fix without reloading (real Chromium).

A viewer watches; finals are stored and broadcast through the real site (Daphne, Redis channel
layer), so they are on the viewer's picture and in its transcript. The admin corrects one in
the admin's change form, then another in place on the player page (Edit in the transcript,
with the keyboard), and removes a third there: the viewer's picture and transcript follow each
time. Viewers never get the controls."""

from __future__ import annotations

import re

import pytest

from tests.browser.page_steps import enter_code
from tests.conftest import require_program
from tests.live_site import free_port
from tests.multiprocess.conftest import PrivateRedis

ADMIN = {"username": "admin", "password": "a-long-admin-passphrase"}

CREATE_ADMIN = """
from django.contrib.auth.models import User
User.objects.create_superuser(params["username"], "admin@example.com", params["password"])
"""

# Store finals now (as a caption session does before it broadcasts them); returns {seq: pk}.
STORE = """
import uuid
from django.utils import timezone
from captions.models import Caption
from livestream.models import Stream

stream = Stream.objects.get(slug=params["slug"])
began = timezone.now()
result = {}
for text in params["texts"]:
    n = Caption.objects.filter(stream=stream).count()
    caption = Caption.store(
        stream, text=text, start=2.0 * n, end=2.0 * n + 1.5, session_started_at=began,
        key=uuid.uuid4(),
    )
    result[caption.seq] = caption.pk
"""

BROADCAST = """
from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from captions.events import broadcast_event, status_message
from captions.models import Caption
from livestream.models import Stream

stream = Stream.objects.get(slug=params["slug"])
origin = Caption.objects.timeline_origin(stream.pk)
layer = get_channel_layer()
# Captioning is on: the page keeps words on the picture for 5 s after the last (2.5 s once off).
on = status_message(captioning=True, engine="deepgram")
async_to_sync(layer.group_send)(stream.group_name, broadcast_event(on))
for seq in params["seqs"]:
    caption = Caption.objects.get(stream=stream, seq=seq)
    async_to_sync(layer.group_send)(stream.group_name, broadcast_event(caption.as_message(origin)))
result = params["seqs"]
"""


@pytest.fixture
def private_redis(tmp_path):
    require_program("redis-server")
    server = PrivateRedis(free_port(), tmp_path)
    server.start()
    yield server
    server.stop()


@pytest.fixture
def site(live_server_factory, private_redis):
    site = live_server_factory(REDIS_URL=private_redis.url)
    site.django(CREATE_ADMIN, **ADMIN)
    return site


@pytest.fixture
def stream(site, hls_stream):
    return site.create_stream(hls_stream, title="Fixing", slug="fixing", viewer_code="FIXME42")


def line(page, seq: int):
    return page.locator(f'#transcript-list li[data-seq="{seq}"]')


def transcript(page) -> list[str]:
    return page.locator("#transcript-list .transcript-text").all_text_contents()


def on_picture(page) -> str:
    return page.locator("#caption-final").text_content()


def store(site, stream, *texts: str) -> dict[int, int]:
    return {int(seq): pk for seq, pk in site.django(STORE, slug=stream.slug, texts=texts).items()}


def broadcast(site, stream, *seqs: int) -> None:
    site.django(BROADCAST, slug=stream.slug, seqs=list(seqs))


def watch(page, site, stream) -> None:
    enter_code(page, site, stream.viewer_code)
    page.wait_for_function("() => ['on', 'off'].includes(document.body.dataset.captionsState)")


def sign_in_as_admin(page, site) -> None:
    page.goto(f"{site.url}/admin/login/")
    page.get_by_label("Username").fill(ADMIN["username"])
    page.get_by_label("Password").fill(ADMIN["password"])
    with page.expect_navigation():
        page.get_by_role("button", name="Log in").click()


def staff_player(page, site, stream) -> None:
    page.goto(f"{site.url}{stream.watch_path}")
    page.wait_for_function("() => ['on', 'off'].includes(document.body.dataset.captionsState)")


def wait_for_text(page, selector: str, text: str) -> None:
    page.wait_for_function(
        "([sel, text]) => (document.querySelector(sel)?.textContent || '').includes(text)",
        arg=[selector, text],
        timeout=10_000,
    )


def test_staff_corrections_reach_another_viewers_picture_and_transcript_without_a_reload(
    site, stream, new_page, screenshot
):
    viewer = new_page()
    viewer_log = new_page.log(viewer)
    watch(viewer, site, stream)
    # A viewer gets no controls, and no token to post with.
    assert viewer.locator("#caption-fix-token").count() == 0
    assert viewer.locator("#transcript-list button").count() == 0

    admin = new_page()
    admin_log = new_page.log(admin)
    sign_in_as_admin(admin, site)
    pks = store(site, stream, "the sea of fighter said hello", "Welcome, everyone.")

    # In the admin's change form: ready to save before the caption goes out, so it is still
    # on the viewer's picture when the correction arrives.
    admin.goto(f"{site.url}/admin/captions/caption/{pks[1]}/change/")
    admin.locator("textarea[name=text]").fill("the CEO of Pfizer said hello")
    broadcast(site, stream, 1, 2)
    wait_for_text(viewer, "#caption-final", "Welcome, everyone.")
    assert "the sea of fighter" in on_picture(viewer)
    admin.get_by_role("button", name="Save", exact=True).click()
    wait_for_text(viewer, '#transcript-list li[data-seq="1"] .transcript-text', "CEO of Pfizer")
    assert transcript(viewer) == ["the CEO of Pfizer said hello", "Welcome, everyone."]
    assert "the CEO of Pfizer said hello Welcome, everyone." in on_picture(viewer)
    assert "fighter" not in on_picture(viewer)

    # In place on the player page, with the keyboard.
    staff_player(admin, site, stream)
    store(site, stream, "Our knew chief executive")
    broadcast(site, stream, 3)
    wait_for_text(viewer, "#caption-final", "Our knew chief executive")
    wait_for_text(admin, '#transcript-list li[data-seq="3"]', "Our knew chief executive")
    edit = line(admin, 3).get_by_role("button", name=re.compile(r"^Edit the caption at \d+:\d\d$"))
    assert edit.is_visible()
    edit.focus()
    admin.keyboard.press("Enter")
    field = line(admin, 3).get_by_label(re.compile("^Corrected text of the caption at"))
    assert field.evaluate("element => element === document.activeElement")
    field.fill("Our new chief executive")
    admin.keyboard.press("Enter")
    wait_for_text(viewer, '#transcript-list li[data-seq="3"] .transcript-text', "Our new chief")
    assert "Our new chief executive" in on_picture(viewer)
    assert "knew" not in on_picture(viewer)
    assert line(admin, 3).locator(".transcript-text").text_content() == "Our new chief executive"
    assert line(admin, 3).locator("textarea").count() == 0  # the editor closed
    assert transcript(viewer) == [
        "the CEO of Pfizer said hello",
        "Welcome, everyone.",
        "Our new chief executive",
    ]

    # A refused change (the same text again): the server's reason, beside the line.
    line(admin, 3).get_by_role("button", name=re.compile("^Edit")).click()
    line(admin, 3).get_by_role("button", name="Save").click()
    alert = line(admin, 3).get_by_role("alert")
    alert.wait_for()
    assert alert.text_content() == "Give the corrected text, different from the current one."
    field = line(admin, 3).locator("textarea")
    assert field.get_attribute("aria-invalid") == "true"
    screenshot(admin, "caption-fix-staff-error")
    line(admin, 3).get_by_role("button", name=re.compile("^Cancel")).click()
    assert line(admin, 3).get_by_role("alert").count() == 0
    screenshot(viewer, "caption-fix-viewer")

    for log in (viewer_log, admin_log):
        assert log.page_errors == []
        assert log.csp_violations() == []


def test_a_caption_removed_on_the_player_page_leaves_every_viewers_transcript(
    site, stream, new_page
):
    viewer = new_page()
    watch(viewer, site, stream)
    store(site, stream, "One.", "Said by mistake.", "Three.")
    broadcast(site, stream, 1, 2, 3)
    wait_for_text(viewer, "#caption-final", "Three.")
    assert transcript(viewer) == ["One.", "Said by mistake.", "Three."]

    admin = new_page()
    admin_log = new_page.log(admin)
    sign_in_as_admin(admin, site)
    staff_player(admin, site, stream)
    wait_for_text(admin, '#transcript-list li[data-seq="3"]', "Three.")  # from the history
    admin.once("dialog", lambda dialog: dialog.accept())
    line(admin, 2).get_by_role("button", name=re.compile(r"^Remove the caption at")).click()

    viewer.wait_for_function("() => !document.querySelector('#transcript-list li[data-seq=\"2\"]')")
    assert transcript(viewer) == ["One.", "Three."]
    assert "Said by mistake." not in on_picture(viewer)
    admin.wait_for_function("() => !document.querySelector('#transcript-list li[data-seq=\"2\"]')")
    assert transcript(admin) == ["One.", "Three."]
    # The keyboard is not lost with the line: it moves to the next line's Edit.
    assert (
        line(admin, 3)
        .get_by_role("button", name=re.compile("^Edit"))
        .evaluate("element => element === document.activeElement")
    )
    # A viewer who arrives now never sees it.
    late = new_page()
    watch(late, site, stream)
    late.wait_for_function("() => document.querySelectorAll('#transcript-list li').length === 2")
    assert transcript(late) == ["One.", "Three."]
    assert admin_log.page_errors == []
    assert admin_log.csp_violations() == []
