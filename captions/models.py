from django.db import models, transaction
from django.utils import timezone

from livestream.models import Stream


class CaptionQuerySet(models.QuerySet):
    def for_stream(self, stream_id: int) -> "CaptionQuerySet":
        return self.filter(stream_id=stream_id).order_by("seq")

    def after(self, seq: int) -> "CaptionQuerySet":
        return self.filter(seq__gt=seq)


class Caption(models.Model):
    """A final caption. The database is the record; live delivery is best effort."""

    stream = models.ForeignKey(Stream, on_delete=models.CASCADE, related_name="captions")
    seq = models.PositiveBigIntegerField(help_text="Per-stream sequence number.")
    text = models.TextField()
    start = models.FloatField(help_text="Seconds since its caption session began.")
    end = models.FloatField()
    session_started_at = models.DateTimeField(
        help_text="When its caption session began (places sessions on one timeline)."
    )
    created_at = models.DateTimeField(default=timezone.now)

    objects = CaptionQuerySet.as_manager()

    class Meta:
        ordering = ["stream", "seq"]
        constraints = [
            models.UniqueConstraint(fields=["stream", "seq"], name="caption_seq_unique_per_stream")
        ]

    def __str__(self) -> str:
        return f"#{self.seq} {self.text[:60]}"

    @classmethod
    def store(cls, stream: Stream, *, text: str, start: float, end: float, session_started_at):
        """Store a final with the stream's next sequence number."""
        with transaction.atomic():
            seq = stream.allocate_caption_seq()
            return cls.objects.create(
                stream=stream,
                seq=seq,
                text=text,
                start=start,
                end=end,
                session_started_at=session_started_at,
            )

    def as_message(self) -> dict:
        return {
            "type": "caption",
            "seq": self.seq,
            "text": self.text,
            "is_final": True,
            "start": round(self.start, 3),
            "end": round(self.end, 3),
        }
