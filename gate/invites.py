"""Invite links and their QR codes: what an organiser sends or prints for a guest.

An invite link is ``/enter/?code=GDRP-N3JA-J9``: it only fills in the entry form, and the guest
still presses *Enter* (a GET never admits anyone). Links are absolute, on the scheme and host
the admin was opened at (``request.scheme``, honouring ``BEHIND_TLS_PROXY``, and
``request.get_host()``, which ``ALLOWED_HOSTS`` has vetted): organisers manage codes on the
site's own address, so that is the address guests are sent to.
"""

import io
from urllib.parse import urlencode

import segno
from django.http import HttpRequest
from django.urls import reverse

from gate.models import format_code


def site_origin(request: HttpRequest) -> str:
    """``scheme://host[:port]`` of the site as this request reached it."""
    return f"{request.scheme}://{request.get_host()}"


def invite_path(code: str) -> str:
    return f"{reverse('enter')}?{urlencode({'code': format_code(code)})}"


def invite_link(origin: str, code: str) -> str:
    """The absolute invite link of ``code`` on the site at ``origin``."""
    return origin + invite_path(code)


def qr_svg(link: str, *, title: str = "") -> bytes:
    """A QR code of ``link`` as a standalone SVG document, black on white, ready to print.

    Error correction at least M (segno raises it when the symbol has room to spare); a quiet zone
    of 4 modules, as the standard asks; 4 px a module, though an SVG scales without loss.
    """
    buffer = io.BytesIO()
    segno.make(link, error="m", micro=False).save(
        buffer, kind="svg", scale=4, border=4, dark="#000", light="#fff", title=title or None
    )
    return buffer.getvalue()
