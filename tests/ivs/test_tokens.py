"""Playback tokens: claims exactly as IVS documents them, exp within IVS's 10 minutes, viewer
ids unguessable and unique per grant."""

import base64
import json
import re
import string
from urllib.parse import parse_qs, urlsplit

import jwt
import pytest
from django.test import Client

from ivs.models import PlaybackGrant, Revocation
from ivs_standin import tokens as standin_tokens
from tests.ivs.conftest import CHANNEL_ARN

pytestmark = pytest.mark.django_db

DOCUMENTED = {
    "aws:channel-arn",
    "aws:access-control-allow-origin",
    "aws:viewer-id",
    "aws:viewer-session-version",
    "exp",
}


def fresh(client: Client, slug: str = "board") -> dict:
    response = client.get(f"/watch/{slug}/playback/")
    assert response.status_code == 200, response.content
    return response.json()


def page_config(client: Client, slug: str = "board") -> dict:
    html = client.get(f"/watch/{slug}/").text
    found = re.search(r'<script id="player-config" type="application/json">(.*?)</script>', html)
    return json.loads(found.group(1))


def token_of(url: str) -> str:
    return parse_qs(urlsplit(url).query)["token"][0]


def segment(token: str, n: int) -> dict:
    part = token.split(".")[n]
    return json.loads(base64.urlsafe_b64decode(part + "=" * (-len(part) % 4)))


def test_the_token_has_exactly_the_claims_ivs_documents(watching_private, playback_key):
    token = token_of(fresh(watching_private)["url"])

    assert segment(token, 0) == {"alg": "ES384", "typ": "JWT"}
    claims = jwt.decode(token, playback_key.public_key(), algorithms=["ES384"])
    assert set(claims) == DOCUMENTED
    assert claims["aws:channel-arn"] == CHANNEL_ARN
    assert claims["aws:access-control-allow-origin"] == "http://testserver"
    assert isinstance(claims["exp"], int)
    assert isinstance(claims["aws:viewer-session-version"], int)
    assert re.fullmatch(r"[A-Za-z0-9_-]{1,40}", claims["aws:viewer-id"])


def test_the_token_opens_the_private_channel_as_ivs_checks_it(
    watching_private, standin, playback_key
):
    body = fresh(watching_private)
    claims = standin_tokens.check(
        token_of(body["url"]),
        CHANNEL_ARN,
        [playback_key.public_key()],
        origin="http://testserver",
        now=body["expires_at"] - body["expires_in"],
    )
    assert claims["exp"] == body["expires_at"]


def test_the_origin_is_the_sites_own_behind_a_tls_proxy(client, enter, private_code, settings):
    settings.SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    settings.ALLOWED_HOSTS = ["live.example.com"]
    proxied = Client(HTTP_HOST="live.example.com", HTTP_X_FORWARDED_PROTO="https")
    proxied.post("/enter/", {"code": "BOARD-2026"}, REMOTE_ADDR="203.0.113.9")
    token = token_of(fresh(proxied)["url"])
    assert segment(token, 1)["aws:access-control-allow-origin"] == "https://live.example.com"


@pytest.mark.parametrize("seconds", [1, 300, 600])
def test_exp_is_never_more_than_ten_minutes_ahead(watching_private, settings, seconds):
    settings.IVS_PLAYBACK_TOKEN_SECONDS = seconds
    body = fresh(watching_private)
    claims = segment(token_of(body["url"]), 1)
    assert body["expires_in"] == seconds
    assert claims["exp"] == body["expires_at"]
    assert claims["exp"] - (body["expires_at"] - body["expires_in"]) <= 600


def test_a_setting_over_ten_minutes_is_capped_at_ivs_limit(watching_private, settings):
    settings.IVS_PLAYBACK_TOKEN_SECONDS = 3600  # the settings module refuses this; still capped
    assert fresh(watching_private)["expires_in"] == 600


def test_one_grant_keeps_its_viewer_id_across_tokens(watching_private):
    first = segment(token_of(fresh(watching_private)["url"]), 1)["aws:viewer-id"]
    second = segment(token_of(fresh(watching_private)["url"]), 1)["aws:viewer-id"]
    page = page_config(watching_private)
    assert first == second
    assert segment(token_of(page["playbackUrl"]), 1)["aws:viewer-id"] == first
    assert PlaybackGrant.objects.count() == 1


def test_every_grant_gets_its_own_viewer_id(enter, private_code):
    ids = []
    for n in range(20):
        browser = Client()
        enter("BOARD-2026", c=browser, ip=f"203.0.113.{n}")
        ids.append(segment(token_of(fresh(browser)["url"]), 1)["aws:viewer-id"])
    assert len(set(ids)) == 20
    assert set(PlaybackGrant.objects.values_list("viewer_id", flat=True)) == set(ids)


def test_entering_the_code_again_is_a_new_grant_with_a_new_viewer_id(watching_private, enter):
    before = segment(token_of(fresh(watching_private)["url"]), 1)["aws:viewer-id"]
    watching_private.post("/leave/")
    enter("BOARD-2026")
    after = segment(token_of(fresh(watching_private)["url"]), 1)["aws:viewer-id"]
    assert after != before


def test_viewer_ids_are_unguessable(private_stream):
    ids = [PlaybackGrant.objects.create(channel_arn=CHANNEL_ARN).viewer_id for _ in range(500)]
    alphabet = set(string.ascii_letters + string.digits + "-_")
    assert len(set(ids)) == 500
    assert all(len(viewer_id) == 32 and set(viewer_id) <= alphabet for viewer_id in ids)
    # 32 base64url characters are 192 random bits: every position takes many values.
    for position in range(32):
        assert len({viewer_id[position] for viewer_id in ids}) > 40


def test_a_revoked_viewer_id_is_replaced_when_its_code_works_again(watching_private):
    before = segment(token_of(fresh(watching_private)["url"]), 1)["aws:viewer-id"]
    PlaybackGrant.objects.filter(viewer_id=before).update(revocation=Revocation.DONE)
    after = segment(token_of(fresh(watching_private)["url"]), 1)["aws:viewer-id"]
    assert after != before
