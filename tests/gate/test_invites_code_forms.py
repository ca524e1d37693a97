"""Codes in the admin's forms: shown grouped and saved as they were, generated codes announced
with their invite link, and codes created in bulk with a CSV to hand out."""

import csv
import io
import re
from datetime import datetime, timedelta
from html.parser import HTMLParser

import pytest
from django.contrib.admin.models import LogEntry
from django.db import IntegrityError
from django.db.models import QuerySet
from django.utils import timezone

from gate.models import CODE_ALPHABET, AccessCode

pytestmark = pytest.mark.django_db


class _FormFields(HTMLParser):
    """What a browser would submit from the page's main form: inputs, selects and textareas."""

    def __init__(self, form_id: str) -> None:
        super().__init__()
        self.form_id, self.inside, self.select = form_id, False, None
        self.data: dict[str, str] = {}

    def handle_starttag(self, tag: str, attrs: list) -> None:
        attr = dict(attrs)
        if tag == "form":
            self.inside = attr.get("id") == self.form_id
        if not self.inside or ("name" not in attr and tag != "option"):
            return
        if tag == "input" and attr.get("type") not in ("submit", "button", "file"):
            if attr.get("type") == "checkbox":
                if "checked" in attr:
                    self.data[attr["name"]] = attr.get("value", "on")
                return
            self.data[attr["name"]] = attr.get("value", "")
        elif tag == "select":
            self.select = attr["name"]
            self.data.setdefault(self.select, "")
        elif tag == "option" and self.select and "selected" in attr:
            self.data[self.select] = attr.get("value", "")

    def handle_endtag(self, tag: str) -> None:
        if tag == "select":
            self.select = None
        if tag == "form":
            self.inside = False


def page_form(html: str, form_id: str) -> dict[str, str]:
    parser = _FormFields(form_id)
    parser.feed(html)
    return parser.data


# --- Grouped codes -------------------------------------------------------------------------------


def test_codes_show_grouped_in_the_list_and_on_the_stream_and_code_pages(admin, code, stream):
    listing = admin.get("/admin/gate/accesscode/").text
    assert ">GDRP-N3JA-J9</a>" in listing
    stream_page = admin.get(f"/admin/livestream/stream/{stream.pk}/change/").text
    assert 'name="access_codes-0-code" value="GDRP-N3JA-J9"' in stream_page
    code_page = admin.get(f"/admin/gate/accesscode/{code.pk}/change/").text
    assert 'name="code" value="GDRP-N3JA-J9"' in code_page
    assert "GDRPN3JAJ9" not in listing + stream_page + code_page


def test_saving_the_stream_page_as_shown_changes_no_code(admin, stream, make_code):
    expires = timezone.now().replace(microsecond=0) + timedelta(days=3, seconds=17)
    code = make_code("GDRPN3JAJ9", expires_at=expires, max_uses=5)
    page = admin.get(f"/admin/livestream/stream/{stream.pk}/change/").text
    data = page_form(page, "stream_form")
    assert data["access_codes-0-code"] == "GDRP-N3JA-J9"
    response = admin.post(f"/admin/livestream/stream/{stream.pk}/change/", data)
    assert response.status_code == 302
    code.refresh_from_db()
    assert code.code == "GDRPN3JAJ9"
    assert code.expires_at == expires  # the minute shown, and the seconds kept
    (entry,) = LogEntry.objects.filter(content_type__model="stream")
    assert entry.get_change_message() == "No fields changed."


def test_a_long_code_shown_grouped_saves_as_it_was(admin, make_code):
    code = make_code("A" * 64)
    page = admin.get(f"/admin/gate/accesscode/{code.pk}/change/").text
    data = page_form(page, "accesscode_form")
    assert data["code"] == "-".join(["AAAA"] * 16)
    response = admin.post(f"/admin/gate/accesscode/{code.pk}/change/", data)
    assert response.status_code == 302
    code.refresh_from_db()
    assert code.code == "A" * 64


def test_searching_for_a_code_as_printed_finds_it(admin, code, make_code):
    make_code("OTHER-CODE-1")
    page = admin.get("/admin/gate/accesscode/", {"q": "gdrp-n3ja"}).text
    assert "GDRP-N3JA-J9" in page
    assert "OTHE-RCOD-E1" not in page


# --- Generated codes are announced ---------------------------------------------------------------


def test_a_code_generated_on_the_stream_page_is_announced_grouped_with_its_link(admin, stream):
    page = admin.get(f"/admin/livestream/stream/{stream.pk}/change/").text
    data = page_form(page, "stream_form")
    data |= {"access_codes-0-code": "", "access_codes-0-label": "Press", "_continue": "1"}
    response = admin.post(f"/admin/livestream/stream/{stream.pk}/change/", data, follow=True)
    generated = AccessCode.objects.get(label="Press")
    assert set(generated.code) <= set(CODE_ALPHABET)
    grouped = f"{generated.code[:4]}-{generated.code[4:8]}-{generated.code[8:]}"
    assert (
        f"Generated code {grouped} (viewer, Press): invite link "
        f"http://testserver/enter/?code={grouped}"
    ) in response.text


def test_a_code_generated_on_the_code_page_is_announced_with_its_link(admin, stream):
    response = admin.post(
        "/admin/gate/accesscode/add/",
        {"stream": stream.pk, "code": "", "role": "viewer", "is_active": "on"},
        follow=True,
    )
    grouped = str(AccessCode.objects.get())
    assert f"invite link http://testserver/enter/?code={grouped}" in response.text


def test_a_typed_code_is_not_announced_as_generated(admin, stream):
    response = admin.post(
        "/admin/gate/accesscode/add/",
        {"stream": stream.pk, "code": "meet-2026", "role": "viewer", "is_active": "on"},
        follow=True,
    )
    assert "Generated code" not in response.text
    assert AccessCode.objects.get().code == "MEET2026"


# --- Codes in bulk -------------------------------------------------------------------------------


def friday_evening() -> datetime:
    now = timezone.localtime()
    friday = now + timedelta(days=(4 - now.weekday()) % 7 or 7)
    return friday.replace(hour=18, minute=0, second=0, microsecond=0)


def bulk_form(stream_, **fields) -> dict[str, str]:
    return {
        "stream": str(stream_.pk),
        "count": "50",
        "role": "viewer",
        "max_uses": "1",
        "expires_at": f"{friday_evening():%Y-%m-%dT%H:%M}",
        "label": "Friday guests",
        **fields,
    }


def read_csv(response) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(response.content.decode())))


def test_the_stream_page_and_code_list_link_to_the_bulk_page(admin, stream):
    stream_page = admin.get(f"/admin/livestream/stream/{stream.pk}/change/").text
    assert f'href="/admin/gate/accesscode/bulk/?stream={stream.pk}"' in stream_page
    assert 'href="/admin/gate/accesscode/bulk/"' in admin.get("/admin/gate/accesscode/").text
    form = admin.get(f"/admin/gate/accesscode/bulk/?stream={stream.pk}").text
    assert f'<option value="{stream.pk}" selected>Keynote</option>' in form


def test_fifty_single_use_viewer_codes_expiring_friday_come_back_as_a_csv(admin, stream):
    response = admin.post("/admin/gate/accesscode/bulk/", bulk_form(stream))
    assert response.status_code == 200
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    assert re.fullmatch(
        r'attachment; filename="codes-keynote-\d{8}-\d{4}\.csv"', response["Content-Disposition"]
    )
    rows = read_csv(response)
    assert len(rows) == 50
    stored = AccessCode.objects.filter(stream=stream)
    assert stored.count() == 50
    assert {row["code"].replace("-", "") for row in rows} == set(
        stored.values_list("code", flat=True)
    )
    friday = friday_evening()
    for row in rows:
        assert re.fullmatch(r"[A-Z0-9]{4}-[A-Z0-9]{4}-[A-Z0-9]{2}", row["code"])
        assert row["invite link"] == f"http://testserver/enter/?code={row['code']}"
        assert (row["role"], row["max uses"], row["label"]) == ("viewer", "1", "Friday guests")
        assert row["expires"] == f"{friday:%Y-%m-%d %H:%M} UTC"
    assert set(stored.values_list("role", "max_uses", "expires_at", "label", "is_active")) == {
        ("viewer", 1, friday, "Friday guests", True)
    }
    assert LogEntry.objects.filter(change_message="Created in bulk.").count() == 50
    # The next page says what was made.
    listing = admin.get("/admin/gate/accesscode/").text
    assert "Generated 50 viewer code(s) for “Keynote”" in listing


def test_bulk_codes_work_at_the_entry_form(admin, stream, client, enter):
    rows = read_csv(admin.post("/admin/gate/accesscode/bulk/", bulk_form(stream, count="2")))
    client.logout()
    assert enter(rows[0]["code"])["Location"] == "/watch/keynote/"


def test_bulk_creation_without_limits(admin, stream):
    data = bulk_form(stream, count="3", role="captioner", max_uses="", expires_at="", label="")
    rows = read_csv(admin.post("/admin/gate/accesscode/bulk/", data))
    assert [(r["role"], r["max uses"], r["expires"], r["label"]) for r in rows] == [
        ("captioner", "", "", "")
    ] * 3
    assert AccessCode.objects.filter(max_uses=None, expires_at=None).count() == 3


@pytest.mark.parametrize(
    ("fields", "error"),
    [
        ({"count": "0"}, "Ensure this value is greater than or equal to 1."),
        ({"count": "1001"}, "Ensure this value is less than or equal to 1000."),
        ({"count": ""}, "This field is required."),
        ({"count": "many"}, "Enter a whole number."),
        ({"max_uses": "0"}, "Ensure this value is greater than or equal to 1."),
        ({"expires_at": "2001-01-01T09:00"}, "That time has passed"),
        ({"expires_at": "next friday"}, "Enter a valid date/time."),
        ({"stream": "999"}, "Select a valid choice."),
        ({"role": "boss"}, "Select a valid choice."),
    ],
)
def test_bulk_creation_refuses_bad_input_and_creates_nothing(admin, stream, fields, error):
    response = admin.post("/admin/gate/accesscode/bulk/", bulk_form(stream, **fields))
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/html")
    assert "Please correct the error below." in response.text
    assert error in response.text
    assert not AccessCode.objects.exists()


def test_bulk_creation_is_one_transaction(admin, stream, monkeypatch):
    real_bulk_create = QuerySet.bulk_create

    def fails_after_the_first_batch(self, objs, *args, **kwargs):
        real_bulk_create(self, objs[:200])  # stored, then the database refuses the rest
        raise IntegrityError("UNIQUE constraint failed: gate_accesscode.code")

    monkeypatch.setattr(QuerySet, "bulk_create", fails_after_the_first_batch)
    response = admin.post("/admin/gate/accesscode/bulk/", bulk_form(stream, count="1000"))
    assert response.status_code == 200
    assert "Nothing was created" in response.text
    assert not AccessCode.objects.exists()
    assert not LogEntry.objects.exists()


def test_a_thousand_codes_are_all_distinct(admin, stream, make_code):
    make_code("PREEXISTING")
    rows = read_csv(admin.post("/admin/gate/accesscode/bulk/", bulk_form(stream, count="1000")))
    assert len({row["code"] for row in rows}) == 1000
    assert AccessCode.objects.count() == 1001


def test_a_label_a_spreadsheet_would_run_is_written_as_text(admin, stream):
    data = bulk_form(stream, count="1", label="=HYPERLINK(1)")
    (row,) = read_csv(admin.post("/admin/gate/accesscode/bulk/", data))
    assert row["label"] == "'=HYPERLINK(1)"
    assert AccessCode.objects.get().label == "=HYPERLINK(1)"


def test_the_bulk_page_needs_permission_to_add_codes(stream, staff_with):
    viewer = staff_with("view_accesscode")
    assert viewer.get("/admin/gate/accesscode/bulk/").status_code == 403
    assert viewer.post("/admin/gate/accesscode/bulk/", bulk_form(stream)).status_code == 403
    assert not AccessCode.objects.exists()
