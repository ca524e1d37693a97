"""The IVS stand-in speaks what IVS speaks: a signed request or nothing, a token that admits
this channel's playback or 403, and a revoked viewer cut off mid-stream."""

import time
import urllib.error
import urllib.request

import boto3
import jwt
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

from ivs import keys
from tests.ivs.conftest import CHANNEL_ARN, OTHER_ARN

ORIGIN = "http://testserver"


def get(url: str, origin: str = ORIGIN) -> tuple[int, str, bytes]:
    request = urllib.request.Request(url, headers={"Origin": origin} if origin else {})
    try:
        with urllib.request.urlopen(request, timeout=5) as response:
            return response.status, "", response.read()
    except urllib.error.HTTPError as error:
        return error.code, error.headers.get("x-standin-refused", ""), error.read()


def token(key, **claims) -> str:
    """A token for the channel; an ``exp`` given is seconds from now."""
    if "exp" in claims:
        claims["exp"] += int(time.time())
    payload = {
        "aws:channel-arn": CHANNEL_ARN,
        "aws:access-control-allow-origin": ORIGIN,
        "aws:viewer-id": "viewer-1",
        "aws:viewer-session-version": 1,
        "exp": int(time.time()) + 60,
        **claims,
    }
    return jwt.encode({k: v for k, v in payload.items() if v is not None}, key, algorithm="ES384")


@pytest.fixture
def url(standin) -> str:
    return standin.playback_url(CHANNEL_ARN)


def test_a_good_token_starts_a_session_with_a_live_playlist(url, playback_key):
    status, _, body = get(f"{url}?token={token(playback_key)}")
    assert status == 200
    variant = body.decode().splitlines()[-1]
    status, _, playlist = get(url.split("/api/")[0] + variant)
    assert status == 200
    assert b"#EXT-X-MEDIA-SEQUENCE:" in playlist
    assert b"#EXT-X-ENDLIST" not in playlist


@pytest.mark.parametrize(
    ("claims", "why"),
    [
        (None, "no token"),
        ({"exp": -60}, "token expired"),
        ({"aws:channel-arn": OTHER_ARN}, "token for another channel"),
        ({"exp": 900}, "exp more than 10 minutes ahead with a viewer id"),
        ({"aws:access-control-allow-origin": "https://elsewhere.example"}, "origin"),
        ({"iat": 1}, "claims IVS does not document"),
        ({"aws:viewer-session-version": "1"}, "Int64"),
    ],
)
def test_a_bad_token_gets_403(url, playback_key, claims, why):
    target = url if claims is None else f"{url}?token={token(playback_key, **claims)}"
    status, reason, _ = get(target)
    assert status == 403
    assert why in reason


def test_a_token_signed_by_another_key_gets_403(url):
    status, reason, _ = get(f"{url}?token={token(keys.generate())}")
    assert (status, reason) == (403, "signature matches no imported playback key")


def test_a_revoked_viewer_is_cut_off_mid_stream_and_cannot_start_again(url, standin, playback_key):
    good = token(playback_key)
    _, _, body = get(f"{url}?token={good}")
    variant = url.split("/api/")[0] + body.decode().splitlines()[-1]
    assert get(variant)[0] == 200

    boto3.client("ivs").start_viewer_session_revocation(
        channelArn=CHANNEL_ARN, viewerId="viewer-1", viewerSessionVersionsLessThanOrEqualTo=1
    )

    assert get(variant)[:2] == (403, "viewer session revoked")
    assert get(f"{url}?token={good}")[:2] == (403, "viewer session revoked")
    other = token(playback_key, **{"aws:viewer-id": "viewer-2"})
    assert get(f"{url}?token={other}")[0] == 200


def test_revoking_with_the_default_version_leaves_a_version_1_session_playing(url, playback_key):
    _, _, body = get(f"{url}?token={token(playback_key)}")
    variant = url.split("/api/")[0] + body.decode().splitlines()[-1]
    boto3.client("ivs").start_viewer_session_revocation(channelArn=CHANNEL_ARN, viewerId="viewer-1")
    assert get(variant)[0] == 200  # as IVS documents: versions <= 0 only


def test_a_request_signed_with_the_wrong_secret_is_refused(standin):
    wrong = boto3.client(
        "ivs",
        aws_access_key_id=standin.access_key,
        aws_secret_access_key="not-the-secret",
        config=Config(retries={"total_max_attempts": 1}),
    )
    with pytest.raises(ClientError, match="InvalidSignatureException"):
        wrong.start_viewer_session_revocation(channelArn=CHANNEL_ARN, viewerId="viewer-1")
    assert standin.revoked == {}


def test_the_call_must_go_to_the_channels_own_region(standin):
    elsewhere = boto3.client(
        "ivs", region_name="eu-west-1", config=Config(retries={"total_max_attempts": 1})
    )
    with pytest.raises(ClientError, match="ResourceNotFoundException"):
        elsewhere.start_viewer_session_revocation(channelArn=CHANNEL_ARN, viewerId="viewer-1")
