import uuid
from datetime import datetime

from django.conf import settings
from django.db import connection, models, transaction
from django.utils import timezone

from captions.events import CaptionMessage
from livestream.models import Stream

# Caption.store on PostgreSQL: the stream's counter and the new row in one statement. The
# UPDATE's row lock orders concurrent writers, as in Stream.allocate_caption_seq.
INSERT_WITH_NEXT_SEQ = """
WITH next AS (
    UPDATE livestream_stream SET last_caption_seq = last_caption_seq + 1
    WHERE id = %(stream)s
    RETURNING last_caption_seq AS seq
)
INSERT INTO captions_caption
    (stream_id, seq, text, start, "end", session_started_at, created_at, key, spoken_at,
     spoken_until, removed)
SELECT %(stream)s, seq, %(text)s, %(start)s, %(end)s, %(session_started_at)s, %(created_at)s,
    %(key)s, %(spoken_at)s, %(spoken_until)s, false
FROM next
RETURNING *
"""


class CaptionQuerySet(models.QuerySet):
    def for_stream(self, stream_id: int) -> "CaptionQuerySet":
        return self.filter(stream_id=stream_id).order_by("seq")

    def timeline_origin(self, stream_id: int) -> datetime | None:
        """When the stream's transcript timeline begins: its first kept caption's session."""
        return self.for_stream(stream_id).values_list("session_started_at", flat=True).first()

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
    spoken_at = models.BigIntegerField(
        null=True,
        blank=True,
        help_text="When its words began to be spoken: UTC milliseconds since the epoch.",
    )
    spoken_until = models.BigIntegerField(null=True, blank=True)
    removed = models.BooleanField(
        default=False, help_text="Taken out by staff: in no transcript, blank for viewers."
    )
    key = models.UUIDField(
        null=True,
        unique=True,
        editable=False,
        help_text="Chosen by the caption session, so a retried write is stored only once.",
    )

    objects = CaptionQuerySet.as_manager()

    class Meta:
        ordering = ["stream", "seq"]
        constraints = [
            models.UniqueConstraint(fields=["stream", "seq"], name="caption_seq_unique_per_stream")
        ]

    def __str__(self) -> str:
        return f"#{self.seq} {self.text[:60]}"

    @classmethod
    def store(
        cls,
        stream: Stream,
        *,
        text: str,
        start: float,
        end: float,
        session_started_at,
        key: uuid.UUID | None = None,
        retry: bool = False,
        spoken_at: int | None = None,
        spoken_until: int | None = None,
    ) -> "Caption":
        """Store a final with the stream's next sequence number.

        A caption waits for this before it reaches any viewer, so on PostgreSQL it is one
        statement (one round trip, atomic on its own); elsewhere a short transaction.
        ``retry``: an earlier attempt with this ``key`` failed, perhaps after it was written;
        the row is returned if it is there, never stored twice.
        """
        if retry and key is not None:
            existing = cls.objects.filter(key=key).first()
            if existing is not None:
                return existing
        caption = cls(
            stream=stream,
            text=text,
            start=start,
            end=end,
            session_started_at=session_started_at,
            key=key,
            spoken_at=spoken_at,
            spoken_until=spoken_until,
        )
        if connection.vendor != "postgresql":
            with transaction.atomic():
                caption.seq = stream.allocate_caption_seq()
                caption.save(force_insert=True)
            return caption
        params = {
            "stream": stream.pk,
            "text": text,
            "start": start,
            "end": end,
            "session_started_at": session_started_at,
            "created_at": caption.created_at,
            "key": key,
            "spoken_at": spoken_at,
            "spoken_until": spoken_until,
        }
        stored = next(iter(cls.objects.raw(INSERT_WITH_NEXT_SEQ, params)), None)
        if stored is None:
            raise Stream.DoesNotExist(f"no stream with id {stream.pk}")
        stored.stream = stream  # as the caller passed it: no query to load it again
        stream.last_caption_seq = stored.seq
        return stored

    def as_message(self, origin: datetime | None = None) -> CaptionMessage:
        """The ``caption`` message for viewers. ``start``/``end`` are on the stream's one
        transcript timeline: seconds since ``origin``, when the stream's first caption session
        began (as in the downloads); without it, since this caption's own session began."""
        offset = (self.session_started_at - origin).total_seconds() if origin else 0.0
        message: CaptionMessage = {
            "type": "caption",
            "seq": self.seq,
            "text": "" if self.removed else self.text,
            "is_final": True,
            "start": round(offset + self.start, 3),
            "end": round(offset + self.end, 3),
            "spoken_at": self.spoken_at,
            "spoken_until": self.spoken_until,
        }
        if self.removed:
            message["removed"] = True  # its seq stays taken: no gap for pages to chase
        return message


class CaptionCorrection(models.Model):
    """One correction or removal of a final caption by staff: who, when, before and after."""

    caption = models.ForeignKey(Caption, on_delete=models.CASCADE, related_name="corrections")
    before = models.TextField()
    after = models.TextField(blank=True, help_text="Empty when the caption was removed.")
    removed = models.BooleanField(default=False)
    by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL
    )
    at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-at"]

    def __str__(self) -> str:
        what = "removed" if self.removed else f"{self.before[:30]!r} → {self.after[:30]!r}"
        return f"#{self.caption.seq} {what}"
