"""The admin in a real Chromium: the stream page fits a 1,280 px screen and a phone, "Copy link"
copies a code's invite link, an invite link opened in another browser leads to the player, and
codes made in bulk download as a CSV. Screenshots of each page go to test-artifacts/admin-*.png."""

import csv
import io
from datetime import timedelta
from pathlib import Path

import pytest
from django.utils import timezone

from tests.browser.page_steps import wait_for_player_state

PASSWORD = "browser-test-pw-1"
INVITED = "GDRP-N3JA-J9"
DESKTOP = {"viewport": {"width": 1280, "height": 800}}
PHONE = {"viewport": {"width": 390, "height": 844}, "is_mobile": True, "has_touch": True}

_CODES = """
from gate.models import AccessCode
from livestream.models import Stream
stream = Stream.objects.get(slug=params["slug"])
for fields in params["codes"]:
    AccessCode.objects.create(stream=stream, **fields)
from django.contrib.auth.models import User
User.objects.create_superuser("admin", "admin@example.com", params["password"])
result = stream.pk
"""


@pytest.fixture
def event(site, hls_stream):
    """The site with a stream and a realistic set of codes, and an admin to manage them."""
    stream = site.create_stream(hls_stream, title="Annual meeting", viewer_code=INVITED)
    friday = timezone.now().replace(microsecond=0) + timedelta(days=4)
    codes = [
        {"label": "Press", "max_uses": 20},
        {"label": "Jane (captions)", "role": "captioner"},
        {"label": "Board members", "expires_at": friday.isoformat(), "max_uses": 1},
        {"label": "Guests from the partner organisation", "expires_at": friday.isoformat()},
    ]
    stream_pk = site.django(_CODES, slug=stream.slug, codes=codes, password=PASSWORD)
    return site, stream, stream_pk


def sign_in(new_page, site, **context):
    page = new_page(**context)
    page.goto(f"{site.url}/admin/login/")
    page.get_by_label("Username").fill("admin")
    page.get_by_label("Password").fill(PASSWORD)
    with page.expect_navigation():
        page.get_by_role("button", name="Log in").click()
    return page


def page_width(page) -> tuple[int, int]:
    return page.evaluate("[document.documentElement.scrollWidth, window.innerWidth]")


@pytest.mark.parametrize(("context", "name"), [(DESKTOP, "1280"), (PHONE, "phone")])
def test_the_stream_page_fits_the_screen(event, new_page, screenshot, context, name):
    site, _stream, stream_pk = event
    page = sign_in(new_page, site, **context)
    page.goto(f"{site.url}/admin/livestream/stream/{stream_pk}/change/")
    rows = page.locator("#access_codes-group tr.form-row.has_original")
    assert rows.count() == 6
    scroll_width, viewport = page_width(page)
    assert scroll_width <= viewport, f"the page is {scroll_width} px wide in {viewport} px"
    # Every code's fields are on screen, not behind a sideways scroll of their own.
    for field in ("code", "label", "role", "expires_at", "max_uses", "invite"):
        box = rows.first.locator(f"td.field-{field}").bounding_box()
        assert box["x"] >= 0
        assert box["x"] + box["width"] <= viewport, f"{field} ends off screen"
    # ...and the codes' table stays inside its own box, as the fields above it do.
    table = page.locator("#access_codes-group table").bounding_box()
    group = page.locator("#access_codes-group fieldset").bounding_box()
    assert table["x"] + table["width"] <= group["x"] + group["width"] + 1
    assert rows.locator(f"input[value='{INVITED}']").count() == 1
    screenshot(page, f"admin-stream-{name}", full_page=True)
    assert new_page.log(page).csp_violations() == []
    assert new_page.log(page).page_errors == []


def test_a_code_added_on_the_stream_page_is_announced(event, new_page, screenshot):
    site, _stream, stream_pk = event
    page = sign_in(new_page, site, **DESKTOP)
    page.goto(f"{site.url}/admin/livestream/stream/{stream_pk}/change/")
    page.locator("#id_access_codes-6-label").fill("Speakers")
    with page.expect_navigation():
        page.get_by_role("button", name="Save and continue editing").click()
    message = page.locator("ul.messagelist li", has_text="Generated code")
    assert message.count() == 1
    text = message.inner_text()
    assert "(viewer, Speakers): invite link" in text
    grouped = text.split()[2]
    assert text.endswith(f"{site.url}/enter/?code={grouped}")
    assert page.locator(f"#access_codes-group input[value='{grouped}']").count() == 1
    assert page_width(page)[0] <= 1280
    screenshot(page, "admin-stream-generated-1280", full_page=True)


@pytest.mark.parametrize(("context", "name"), [(DESKTOP, "1280"), (PHONE, "phone")])
def test_copy_link_copies_the_invite_link(event, new_page, screenshot, context, name):
    site, *_ = event
    page = sign_in(new_page, site, permissions=["clipboard-read", "clipboard-write"], **context)
    page.goto(f"{site.url}/admin/gate/accesscode/")
    row = page.locator("#result_list tr", has_text=INVITED)
    button = row.get_by_role("button", name="Copy link")
    button.click()
    row.get_by_role("button", name="Copied").wait_for()
    assert page.evaluate("navigator.clipboard.readText()") == f"{site.url}/enter/?code={INVITED}"
    assert page_width(page)[0] <= page_width(page)[1]
    screenshot(page, f"admin-codes-{name}", full_page=True)
    assert new_page.log(page).csp_violations() == []


@pytest.mark.parametrize(("context", "name"), [(DESKTOP, "1280"), (PHONE, "phone")])
def test_the_code_page_shows_the_invite_link_and_its_qr_code(
    event, new_page, screenshot, context, name
):
    site, *_ = event
    page = sign_in(new_page, site, **context)
    page.goto(f"{site.url}/admin/gate/accesscode/?q={INVITED}")
    with page.expect_navigation():
        page.get_by_role("link", name=INVITED).click()
    assert page.locator("input.invite-link").input_value() == (f"{site.url}/enter/?code={INVITED}")
    qr = page.locator("img.invite-qr")
    assert qr.evaluate("img => img.complete && img.naturalWidth") > 100
    assert page_width(page)[0] <= page_width(page)[1]
    screenshot(page, f"admin-code-{name}", full_page=True)
    assert new_page.log(page).csp_violations() == []


def test_an_invite_link_opened_in_another_browser_fills_the_form_and_leads_to_the_player(
    event, new_page
):
    site, stream, _ = event
    admin = sign_in(new_page, site, **DESKTOP)
    admin.goto(f"{site.url}/admin/gate/accesscode/?q={INVITED}")
    with admin.expect_navigation():
        admin.get_by_role("link", name=INVITED).click()
    link = admin.locator("input.invite-link").input_value()

    guest = new_page(**PHONE)  # its own context: no admin session, no grant
    guest.goto(link)
    assert guest.url == link  # a GET only fills the form in
    assert guest.get_by_label("Access code").input_value() == INVITED
    with guest.expect_navigation():
        guest.get_by_role("button", name="Enter").click()
    assert guest.url == f"{site.url}{stream.watch_path}"
    wait_for_player_state(guest, "playing")


def test_codes_made_in_bulk_download_as_a_csv(event, new_page, screenshot):
    site, _stream, stream_pk = event
    page = sign_in(new_page, site, **DESKTOP)
    page.goto(f"{site.url}/admin/livestream/stream/{stream_pk}/change/")
    with page.expect_navigation():
        page.get_by_role("link", name="Codes in bulk").click()
    assert page.get_by_label("Stream").input_value() == str(stream_pk)
    page.get_by_label("How many").fill("25")
    page.get_by_label("Label").fill("Friday guests")
    page.get_by_label("Expires").fill("2001-01-01T09:00")
    with page.expect_navigation():
        page.get_by_role("button", name="Create and download CSV").click()
    assert page.locator(".errornote").is_visible()
    assert "That time has passed" in page.locator(".field-expires_at .errorlist").inner_text()
    screenshot(page, "admin-bulk-error-1280", full_page=True)

    friday = timezone.localtime() + timedelta(days=4)
    page.get_by_label("Expires").fill(f"{friday:%Y-%m-%dT18:00}")
    with page.expect_download() as download:
        page.get_by_role("button", name="Create and download CSV").click()
    rows = list(csv.DictReader(io.StringIO(Path(download.value.path()).read_text())))
    assert len(rows) == 25
    assert {(r["role"], r["max uses"], r["label"]) for r in rows} == {
        ("viewer", "1", "Friday guests")
    }
    assert all(r["invite link"] == f"{site.url}/enter/?code={r['code']}" for r in rows)
    page.goto(f"{site.url}/admin/gate/accesscode/")
    assert "Generated 25 viewer code(s) for “Annual meeting”" in page.content()
