from django.db import models
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
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["title"]

    def __str__(self) -> str:
        return self.title

    def get_absolute_url(self) -> str:
        return reverse("watch", args=[self.slug])

    @property
    def group_name(self) -> str:
        """The channel-layer group every viewer of this stream listens on."""
        return f"stream-{self.pk}"
