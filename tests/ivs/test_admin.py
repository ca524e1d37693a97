"""The admin: a private stream needs a valid channel ARN, an https .m3u8 URL and a signing key;
other HLS hosts are allowed with a warning; revocations are listed with their outcome."""

import pytest

from livestream.models import Stream
from tests.ivs.conftest import CHANNEL_ARN
from tests.livestream.test_admin import inline_management

pytestmark = pytest.mark.django_db

IVS_URL = "https://abc123.us-west-2.playback.live-video.net/api/video/v1/us-west-2.1.channel.x.m3u8"


@pytest.fixture
def admin(client, django_user_model):
    user = django_user_model.objects.create_superuser("admin", "admin@example.com", "pw-123456")
    client.force_login(user)
    return client


def add_stream(admin, **fields):
    # The add form's own initial values first, so fields added to Stream later fill themselves.
    form = admin.get("/admin/livestream/stream/add/").context["adminform"].form
    initial = {name: form[name].value() for name in form.fields}
    data = {
        **{name: value for name, value in initial.items() if value not in (None, False)},
        "title": "Board meeting",
        "slug": "board",
        "playback_url": IVS_URL,
        "caption_language": "en",
        **inline_management(total=0),
        **fields,
    }
    return admin.post("/admin/livestream/stream/add/", data, follow=True)


def errors(response) -> dict[str, list[str]]:
    form = response.context["adminform"].form
    return {name: [str(e) for e in errs] for name, errs in form.errors.items()}


def test_a_private_stream_with_a_channel_arn_and_a_key_is_saved(admin, playback_key):
    response = add_stream(admin, is_private="on", channel_arn=CHANNEL_ARN)
    stream = Stream.objects.get(slug="board")
    assert stream.is_private
    assert stream.channel_arn == CHANNEL_ARN
    assert not [m for m in response.context["messages"] if m.level_tag == "warning"]


@pytest.mark.parametrize(
    "arn",
    [
        "arn:aws:ivs:us-west-2:123456789012:stage/AbCd",
        "arn:aws:ivs:us-west-2:acct:channel/AbCd",
        "arn:aws:s3:::bucket",
        "arn:aws:ivs:us-west-2:123456789012:channel/Ab_Cd",
        "arn:aws:ivs:us-west-2:123456789012:channel/AbCd/x",
    ],
)
def test_a_channel_arn_that_is_not_ivss_pattern_is_refused(admin, playback_key, arn):
    response = add_stream(admin, is_private="on", channel_arn=arn)
    assert "Not an IVS channel ARN" in " ".join(errors(response).get("channel_arn", []))
    assert not Stream.objects.exists()


def test_a_private_stream_needs_its_channel_arn(admin, playback_key):
    response = add_stream(admin, is_private="on", channel_arn="")
    assert errors(response)["channel_arn"] == ["A private stream needs its channel ARN."]


def test_a_private_stream_without_a_signing_key_is_an_admin_error(admin, settings):
    settings.IVS_PLAYBACK_PRIVATE_KEY = ""
    response = add_stream(admin, is_private="on", channel_arn=CHANNEL_ARN)
    assert "IVS_PLAYBACK_PRIVATE_KEY" in errors(response)["is_private"][0]
    assert not Stream.objects.exists()


@pytest.mark.parametrize(
    "url",
    [
        "http://abc.us-west-2.playback.live-video.net/api/video/v1/x.m3u8",
        "https://abc.us-west-2.playback.live-video.net/api/video/v1/x.mp4",
        "https://abc.us-west-2.playback.live-video.net/",
    ],
)
def test_a_playback_url_must_be_https_and_m3u8(admin, url):
    response = add_stream(admin, playback_url=url)
    assert errors(response)["playback_url"] == [
        "Use the https playback URL of the channel, ending in .m3u8."
    ]


def test_http_is_allowed_only_for_a_local_stand_in_in_development(admin, settings):
    local = "http://127.0.0.1:8771/api/video/v1/us-west-2.1.channel.x.m3u8"
    settings.DEBUG = False
    assert "playback_url" in errors(add_stream(admin, playback_url=local))
    settings.DEBUG = True
    elsewhere = local.replace("127.0.0.1", "cdn.example.com")
    assert "playback_url" in errors(add_stream(admin, playback_url=elsewhere))
    add_stream(admin, playback_url=local)
    assert Stream.objects.get(slug="board").playback_url == local


def test_another_hls_host_is_saved_with_a_warning(admin):
    response = add_stream(admin, playback_url="https://cdn.example.com/live/index.m3u8")
    assert Stream.objects.filter(slug="board").exists()
    warnings = [str(m) for m in response.context["messages"] if m.level_tag == "warning"]
    assert len(warnings) == 1
    assert "cdn.example.com, not an IVS playback host" in warnings[0]


def test_the_playback_grants_list_shows_each_revocation_and_its_error(admin, private_stream):
    from ivs.models import PlaybackGrant, Revocation

    PlaybackGrant.objects.create(
        channel_arn=CHANNEL_ARN,
        stream=private_stream,
        revocation=Revocation.FAILED,
        attempts=8,
        last_error="AccessDeniedException (HTTP 403): not allowed",
    )
    page = admin.get("/admin/ivs/playbackgrant/?revocation__exact=failed")
    assert page.status_code == 200
    assert "AccessDeniedException (HTTP 403): not allowed" in page.text
    assert ">failed<" in page.text
    assert admin.get("/admin/ivs/playbackgrant/add/").status_code == 403
