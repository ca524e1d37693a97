import re
from urllib.parse import urlsplit

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models
from django.db.models import F
from django.urls import reverse

CAPTION_LANGUAGES = [
    ("en", "English"),
    ("en-US", "English (US)"),
    ("en-GB", "English (UK)"),
    ("es", "Spanish"),
    ("fr", "French"),
    ("de", "German"),
    ("it", "Italian"),
    ("pt", "Portuguese"),
    ("nl", "Dutch"),
    ("ja", "Japanese"),
    ("multi", "Multilingual (auto-detect)"),
]


# IVS's pattern for a channel ARN (API reference, ChannelArn).
CHANNEL_ARN_PATTERN = re.compile(r"arn:aws:ivs:[a-z0-9-]+:[0-9]+:channel/[a-zA-Z0-9-]+")
IVS_PLAYBACK_HOST_SUFFIX = ".playback.live-video.net"
LOOPBACK = {"127.0.0.1", "localhost", "::1"}


def group_name(stream_id: int) -> str:
    """The channel-layer group every viewer of the stream ``stream_id`` listens on."""
    return f"stream-{stream_id}"


class Stream(models.Model):
    """One live stream: what viewers watch behind an access code."""

    title = models.CharField(max_length=200)
    slug = models.SlugField(max_length=80, unique=True, help_text="Used in the page address.")
    playback_url = models.URLField(
        max_length=500,
        help_text="The IVS channel's playback URL (…/api/video/v1/….m3u8).",
    )
    is_private = models.BooleanField(
        "private",
        default=False,
        help_text="The IVS channel has playback authorization on: each viewer gets a playback "
        "token, and revoking a code stops its viewers' video.",
    )
    channel_arn = models.CharField(
        "channel ARN",
        max_length=128,
        blank=True,
        help_text="arn:aws:ivs:REGION:ACCOUNT:channel/ID (IVS console → channel). "
        "Required when private.",
    )
    caption_language = models.CharField(
        max_length=12, choices=CAPTION_LANGUAGES, default="en", help_text="Spoken language."
    )
    caption_source = models.CharField(
        max_length=12,
        choices=[
            ("microphone", "The captioner's microphone (Start captions on the player page)"),
            ("stream", "The stream's own audio (a caption worker follows the stream)"),
        ],
        default="microphone",
        help_text="Where captions are made from.",
    )
    caption_engine = models.CharField(
        max_length=12,
        choices=[
            ("", "Site default (CAPTIONS_ENGINE)"),
            ("deepgram", "Deepgram (live, needs DEEPGRAM_API_KEY)"),
            ("local", "Local engine (offline, lower accuracy)"),
        ],
        default="",
        blank=True,
        help_text="Which speech engine captions this stream.",
    )
    last_caption_seq = models.PositiveBigIntegerField(
        default=0, editable=False, help_text="Sequence number of the last stored caption."
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["title"]

    def __str__(self) -> str:
        return self.title

    def get_absolute_url(self) -> str:
        return reverse("watch", args=[self.slug])

    def clean(self) -> None:
        errors: dict[str, str] = {}
        parts = urlsplit(self.playback_url or "")
        # http only for a stand-in on this machine (ivs_standin), in development.
        local = settings.DEBUG and parts.scheme == "http" and parts.hostname in LOOPBACK
        if self.playback_url and (
            (parts.scheme != "https" and not local) or not parts.path.endswith(".m3u8")
        ):
            errors["playback_url"] = "Use the https playback URL of the channel, ending in .m3u8."
        if self.channel_arn and not CHANNEL_ARN_PATTERN.fullmatch(self.channel_arn):
            errors["channel_arn"] = (
                "Not an IVS channel ARN (arn:aws:ivs:us-west-2:123456789012:channel/AbCd1234)."
            )
        if self.is_private and not self.channel_arn:
            errors["channel_arn"] = "A private stream needs its channel ARN."
        if self.is_private and "channel_arn" not in errors:
            from ivs import keys  # the signing key lives with the rest of IVS playback

            if not keys.configured():
                errors["is_private"] = (
                    "This site has no playback key (IVS_PLAYBACK_PRIVATE_KEY), so no viewer "
                    "could play a private stream. See the README, “Private channels”."
                )
        if errors:
            raise ValidationError(errors)

    @property
    def on_ivs_host(self) -> bool:
        """Whether the playback URL is an IVS playback host (others serve tests and demos)."""
        return (urlsplit(self.playback_url).hostname or "").endswith(IVS_PLAYBACK_HOST_SUFFIX)

    def allocate_caption_seq(self) -> int:
        """The next caption sequence number, unique per stream across processes.

        Call inside a transaction: the UPDATE holds the row until it commits. Numbers never go
        back, even when old captions are cleared, so viewers resuming after a number are safe.
        """
        Stream.objects.filter(pk=self.pk).update(last_caption_seq=F("last_caption_seq") + 1)
        self.last_caption_seq = (
            Stream.objects.filter(pk=self.pk).values_list("last_caption_seq", flat=True).get()
        )
        return self.last_caption_seq

    @property
    def group_name(self) -> str:
        """The channel-layer group every viewer of this stream listens on."""
        return group_name(self.pk)
