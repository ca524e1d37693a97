"""The stand-in's handshake: authentication, and the settings Deepgram refuses with 400."""

from __future__ import annotations

import json

import pytest
from websockets.asyncio.client import connect

from livestream.models import CAPTION_LANGUAGES
from tests.deepgram_standin.wire import AUTH, KEY, QUERY, RAW, refusal


async def test_a_wrong_key_gets_deepgrams_401(dg):
    refused = await refusal(dg.url + QUERY, {"Authorization": "Token nope"})

    response = refused.response
    body = json.loads(response.body)
    assert response.status_code == 401
    assert response.body.startswith(b'{"err_code":"INVALID_AUTH","err_msg":"Invalid credentials.",')
    assert body["request_id"] == response.headers["dg-request-id"]
    assert response.headers["dg-error"] == "Invalid credentials."
    assert dg.connections == []


async def test_a_missing_key_gets_401(dg):
    assert (await refusal(dg.url + QUERY, {})).response.status_code == 401


async def test_an_accepted_upgrade_carries_a_request_id(dg):
    async with connect(dg.url + QUERY, additional_headers=AUTH) as ws:
        assert ws.response.headers["dg-request-id"] == dg.handshakes[0].request_id


@pytest.mark.parametrize(
    "query",
    [
        "?encoding=linear16",
        "?sample_rate=16000",
        "?encoding=opus&sample_rate=16000",
        "?encoding=linear16&sample_rate=16000&channels=2",
        "",
    ],
)
async def test_raw_audio_parameters_are_validated(dg, query):
    response = (await refusal(dg.url + query)).response

    assert response.status_code == 400
    assert json.loads(response.body)["err_code"] == "Bad Request"
    assert "dg-error" in response.headers


@pytest.mark.parametrize(
    ("settings", "says"),
    [
        ("model=nova-9&language=en", "No such model/language/tier combination found."),
        ("model=nova-3&language=english", "No such model/language/tier combination found."),
        ("model=nova-3&language=sw", "No such model/language/tier combination found."),
        ("model=nova-3&keywords=Django:2", "Keywords are not supported for Nova-3"),
        ("model=nova-2&keyterm=Django", "Keyterm prompting is only supported for Nova-3"),
        ("model=nova-3&endpointing=soon", "endpointing must be an integer"),
    ],
)
async def test_settings_deepgram_refuses_get_400_saying_why(dg, settings, says):
    response = (await refusal(f"{dg.url}?{RAW}&{settings}")).response

    body = json.loads(response.body)
    assert response.status_code == 400
    assert body["err_code"] == "Bad Request"
    assert says in body["err_msg"]
    assert response.headers["dg-error"] == body["err_msg"]
    assert dg.connections == []


@pytest.mark.parametrize(
    "settings",
    [
        "model=nova-3&language=multi&endpointing=100",
        "model=nova-3&language=en-GB&keyterm=Django&keyterm=Channels",
        "model=nova-2&language=nl&keywords=Django:2",
        "model=nova-3-general&language=ja&endpointing=false",
    ],
)
async def test_settings_deepgram_takes_are_accepted(dg, settings):
    async with connect(f"{dg.url}?{RAW}&{settings}", additional_headers=AUTH):
        pass

    assert [h.status for h in dg.handshakes] == [101]


async def test_every_language_the_site_offers_is_accepted_with_nova_3(dg):
    for code, _ in CAPTION_LANGUAGES:
        async with connect(f"{dg.url}?{RAW}&model=nova-3&language={code}", additional_headers=AUTH):
            pass

    assert {h.status for h in dg.handshakes} == {101}


@pytest.mark.parametrize(
    ("status", "code"),
    [(402, "ASR_PAYMENT_REQUIRED"), (403, "INSUFFICIENT_PERMISSIONS"), (429, "TOO_MANY_REQUESTS")],
)
async def test_scripted_refusals_have_deepgram_like_bodies(dg, status, code):
    dg.refuse(status, times=2)

    for _ in range(2):
        response = (await refusal(dg.url + QUERY)).response
        assert response.status_code == status
        assert json.loads(response.body)["err_code"] == code
    async with connect(dg.url + QUERY, additional_headers=AUTH):
        pass
    assert [h.status for h in dg.handshakes] == [status, status, 101]


async def test_query_and_headers_of_every_connection_are_recorded(dg):
    async with connect(dg.url + QUERY + "&keyterm=a&keyterm=b", additional_headers=AUTH):
        pass

    assert dg.connections[0].query["sample_rate"] == "16000"
    assert dg.handshakes[0].query["keyterm"] == ["a", "b"]
    assert dg.connections[0].headers["Authorization"] == f"Token {KEY}"
