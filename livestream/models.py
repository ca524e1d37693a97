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
    caption_language = models.CharField(
        max_length=12, choices=CAPTION_LANGUAGES, default="en", help_text="Spoken language."
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
