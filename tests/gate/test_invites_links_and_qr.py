"""Invites in the admin: each code's absolute invite link, with a copy button, on its page and in
the list; what following one does; and the QR code that draws it, for staff only."""

import re
import xml.etree.ElementTree as ET  # parses only what this site's own view made

import pytest
import segno

pytestmark = pytest.mark.django_db

SVG = "{http://www.w3.org/2000/svg}"
LINK = "http://testserver/enter/?code=GDRP-N3JA-J9"


def svg_dark_modules(svg: bytes) -> tuple[int, set[tuple[int, int]]]:
    """Read back which modules (column, row) an SVG from segno paints dark, and its scale."""
    root = ET.fromstring(svg)  # noqa: S314
    assert root.tag == f"{SVG}svg"
    group = root.find(f"{SVG}g")  # scale(n), around a white background and the dark modules
    scale = int(re.fullmatch(r"scale\((\d+)\)", group.get("transform")).group(1))
    background, path = group.findall(f"{SVG}path")
    assert background.get("fill") == "#fff"
    assert (path.get("class"), path.get("stroke")) == ("qrline", "#000")
    x = y = 0.0
    dark: set[tuple[int, int]] = set()
    for command, args in re.findall(r"([MmHh])([^MmHh]*)", path.get("d")):
        numbers = [float(n) for n in re.findall(r"-?\d+(?:\.\d+)?", args)]
        if command == "M":
            x, y = numbers
        elif command == "m":
            x, y = x + numbers[0], y + numbers[1]
        else:  # a horizontal run of dark modules along the row y (the stroke's middle)
            run = numbers[0] if command == "h" else numbers[0] - x
            dark.update((int(x) + i, int(y)) for i in range(int(run)))
            x += run
    return scale, dark


# --- The invite link -----------------------------------------------------------------------------


def test_the_code_page_shows_the_absolute_invite_link_with_a_copy_button_and_the_qr(admin, code):
    page = admin.get(f"/admin/gate/accesscode/{code.pk}/change/").text
    assert f'class="invite-link" value="{LINK}"' in page
    assert f'<button type="button" class="invite-copy" data-invite="{LINK}"' in page
    assert f'<img src="/admin/gate/accesscode/{code.pk}/qr.svg"' in page
    # The copy button's script is a file of the site's own (the CSP allows no inline script).
    assert '<script src="/static/js/admin-invites.js"></script>' in page


def test_the_code_list_has_a_copy_button_and_qr_link_per_code(admin, code):
    page = admin.get("/admin/gate/accesscode/").text
    assert f'data-invite="{LINK}"' in page
    assert f'href="/admin/gate/accesscode/{code.pk}/qr.svg"' in page


def test_invite_links_use_the_scheme_and_host_the_admin_was_opened_at(admin, code, settings):
    settings.ALLOWED_HOSTS = ["live.example.com"]
    settings.SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    page = admin.get(
        f"/admin/gate/accesscode/{code.pk}/change/",
        HTTP_HOST="live.example.com",
        HTTP_X_FORWARDED_PROTO="https",
    ).text
    assert 'value="https://live.example.com/enter/?code=GDRP-N3JA-J9"' in page


def test_an_invite_link_fills_in_the_form_but_a_get_admits_no_one(client, code, stream):
    page = client.get("/enter/?code=GDRP-N3JA-J9")
    assert page.status_code == 200
    assert 'value="GDRP-N3JA-J9"' in page.text
    assert client.get("/watch/keynote/").status_code == 302
    code.refresh_from_db()
    assert code.use_count == 0
    entered = client.post("/enter/", {"code": "GDRP-N3JA-J9"})
    assert entered["Location"] == "/watch/keynote/"


# --- The QR code ---------------------------------------------------------------------------------


def test_the_qr_code_is_an_svg_that_draws_the_invite_link(admin, code):
    response = admin.get(f"/admin/gate/accesscode/{code.pk}/qr.svg")
    assert response.status_code == 200
    assert response["Content-Type"] == "image/svg+xml"
    assert response["Content-Disposition"] == 'inline; filename="invite-GDRP-N3JA-J9.svg"'
    scale, dark = svg_dark_modules(response.content)
    # What the SVG paints is module for module the QR symbol of the link (quiet zone: 4).
    symbol = segno.make(LINK, error="m", micro=False)
    expected = {
        (column + 4, row + 4)
        for row, modules in enumerate(symbol.matrix)
        for column, module in enumerate(modules)
        if module
    }
    assert dark == expected
    size = (len(symbol.matrix) + 8) * scale
    root = ET.fromstring(response.content)  # noqa: S314
    assert (root.get("width"), root.get("height")) == (str(size), str(size))
    assert root.find(f"{SVG}title").text == "Invite: GDRP-N3JA-J9"


def test_the_qr_code_downloads_as_a_file_when_asked(admin, code):
    response = admin.get(f"/admin/gate/accesscode/{code.pk}/qr.svg?download=1")
    assert response["Content-Disposition"] == 'attachment; filename="invite-GDRP-N3JA-J9.svg"'


def test_the_qr_code_is_for_staff_only(client, code, staff_with):
    anonymous = client.get(f"/admin/gate/accesscode/{code.pk}/qr.svg")
    assert anonymous.status_code == 302
    assert anonymous["Location"].startswith("/admin/login/")
    assert staff_with().get(f"/admin/gate/accesscode/{code.pk}/qr.svg").status_code == 403
    viewer = staff_with("view_accesscode")
    assert viewer.get(f"/admin/gate/accesscode/{code.pk}/qr.svg").status_code == 200


def test_the_qr_code_of_a_missing_code_is_404(admin):
    assert admin.get("/admin/gate/accesscode/999/qr.svg").status_code == 404
