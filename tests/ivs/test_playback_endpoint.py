"""GET /watch/<slug>/playback/ and the player page for private streams: who gets a token, what
the page carries, and the private key nowhere but in the signature."""

import json
import logging
import re

import pytest
from django.core.management import call_command
from django.core.management.base import SystemCheckError
from django.test import Client

from gate.models import AccessCode
from ivs import keys
from tests.ivs.test_tokens import page_config, segment, token_of

pytestmark = pytest.mark.django_db


def test_a_grant_for_the_stream_gets_a_fresh_playback_url(watching_private, private_stream):
    response = watching_private.get("/watch/board/playback/")
    assert response.status_code == 200
    assert response["Content-Type"] == "application/json"
    assert "no-cache" in response["Cache-Control"] or "max-age=0" in response["Cache-Control"]
    body = response.json()
    assert body["url"].startswith(private_stream.playback_url + "?token=")
    assert body["expires_in"] == 300
    assert set(body) == {"url", "expires_at", "expires_in"}


@pytest.mark.parametrize("who", ["nobody", "another stream's viewer", "revoked", "expired"])
def test_without_a_grant_for_that_stream_it_is_403(who, client, enter, private_code, make_code):
    if who == "another stream's viewer":
        make_code("ELSE-2026")  # a code of the public "keynote" stream
        enter("ELSE-2026")
    elif who in ("revoked", "expired"):
        enter("BOARD-2026")
        AccessCode.objects.filter(pk=private_code.pk).update(
            **({"is_active": False} if who == "revoked" else {"expires_at": "2000-01-01T00:00Z"})
        )
    response = client.get("/watch/board/playback/")
    assert response.status_code == 403
    assert "token" not in response.text


def test_an_unknown_stream_answers_like_a_known_one(client):
    assert client.get("/watch/nope/playback/").status_code == 403


def test_a_public_stream_answers_with_its_plain_url(client, enter, viewer_code, stream):
    enter("VIEW-2024")
    body = client.get("/watch/keynote/playback/").json()
    assert body == {"url": stream.playback_url, "expires_at": None, "expires_in": None}
    config = page_config(client, "keynote")
    assert config["playbackUrl"] == stream.playback_url
    assert config["private"] is False


def test_the_private_page_carries_a_token_url_and_where_to_get_the_next(
    watching_private, private_stream
):
    config = page_config(watching_private)
    assert config["private"] is True
    assert config["playbackUrl"].startswith(private_stream.playback_url + "?token=")
    assert config["playbackEndpoint"] == "/watch/board/playback/"
    assert 0 < config["playbackExpiresIn"] <= 600
    csp = watching_private.get("/watch/board/")["Content-Security-Policy"]
    assert private_stream.playback_url.split("/api/")[0] in csp


def test_the_private_key_is_in_no_page_response_or_log_line(
    watching_private, playback_key, caplog, capsys, django_user_model
):
    pem = keys.private_pem(playback_key).decode()
    body_lines = [line for line in pem.splitlines() if "PRIVATE KEY" not in line]
    scalar = format(playback_key.private_numbers().private_value, "x")
    admin = Client()
    admin.force_login(django_user_model.objects.create_superuser("root", "r@example.com", "pw"))
    caplog.set_level(logging.DEBUG)
    seen = [
        watching_private.get("/watch/board/"),
        watching_private.get("/watch/board/playback/"),
        watching_private.get("/healthz"),
        admin.get("/admin/ivs/playbackgrant/"),
        admin.get("/admin/livestream/stream/1/change/"),
    ]
    texts = [r.content.decode() + json.dumps(dict(r.headers)) for r in seen]
    texts += [caplog.text, *capsys.readouterr()]
    for text in texts:
        assert "PRIVATE KEY" not in text
        assert not any(line in text for line in body_lines)
        assert scalar not in text.lower()


def test_without_a_usable_key_the_page_says_so_and_the_log_names_the_setting(
    watching_private, settings, caplog
):
    settings.IVS_PLAYBACK_PRIVATE_KEY = "-----BEGIN PRIVATE KEY-----\nnot a key\n"
    with caplog.at_level(logging.ERROR):
        response = watching_private.get("/watch/board/playback/")
        page = page_config(watching_private)
    assert response.status_code == 503
    assert response.json() == {"error": "The video cannot be played right now."}
    assert page["playbackUrl"] == ""
    assert "IVS_PLAYBACK_PRIVATE_KEY is not a PEM private key" in caplog.text
    assert "not a key" not in caplog.text


def test_a_key_of_the_wrong_curve_is_refused_with_the_reason(settings):
    from cryptography.hazmat.primitives.asymmetric import ec

    settings.IVS_PLAYBACK_PRIVATE_KEY = keys.private_pem(
        ec.generate_private_key(ec.SECP256R1())
    ).decode()
    with pytest.raises(Exception, match="P-384"):
        keys.private_key()


def test_a_key_file_and_escaped_newlines_both_work(settings, tmp_path, playback_key):
    pem = keys.private_pem(playback_key).decode()
    path = tmp_path / "key.pem"
    path.write_text(pem)
    settings.IVS_PLAYBACK_PRIVATE_KEY = f"file:{path}"
    assert keys.private_key().private_numbers() == playback_key.private_numbers()
    settings.IVS_PLAYBACK_PRIVATE_KEY = pem.replace("\n", "\\n")
    assert keys.private_key().private_numbers() == playback_key.private_numbers()


def test_private_streams_without_a_key_fail_the_start_up_check_in_production(
    private_stream, settings
):
    from ivs.checks import private_streams_have_a_key

    settings.IVS_PLAYBACK_PRIVATE_KEY = ""
    settings.DEBUG = False
    errors = private_streams_have_a_key(databases=["default"])
    assert [e.id for e in errors] == ["ivs.E001"]
    assert errors[0].level >= 40
    assert "board" in errors[0].msg
    settings.DEBUG = True
    assert private_streams_have_a_key(databases=["default"])[0].level == 30
    settings.DEBUG = False
    with pytest.raises(SystemCheckError, match=r"ivs\.E001"):
        call_command("check", "--database", "default", "--fail-level", "ERROR")


def test_the_viewer_id_in_the_token_is_the_stored_one(watching_private):
    from ivs.models import PlaybackGrant

    viewer_id = segment(token_of(watching_private.get("/watch/board/playback/").json()["url"]), 1)[
        "aws:viewer-id"
    ]
    grant = PlaybackGrant.objects.get(viewer_id=viewer_id)
    assert grant.code.code == "BOARD2026"
    assert grant.channel_arn == grant.stream.channel_arn
    assert re.fullmatch(r"[\w-]{32}", viewer_id)
