"""Staff fix a final caption after the fact: correct its text, or remove it.

The record changes at once (transcripts and downloads follow), each change is logged with who,
when, before and after, and every viewer's page is told with a ``correction`` message so its
screen and on-page transcript change without a reload. A viewer who misses the message (a
reconnect, the channel layer restarting) gets the corrected caption in its next history.
"""

from __future__ import annotations

import logging

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from django.db import transaction

from captions.events import CorrectionMessage, broadcast_event
from captions.models import Caption, CaptionCorrection

logger = logging.getLogger(__name__)


class NothingToCorrect(ValueError):
    """The new text is empty or the same as before (say "remove" to take a caption out)."""


def correct(caption: Caption, text: str, user) -> CaptionCorrection:
    text = " ".join(text.split())
    if not text or text == caption.text:
        raise NothingToCorrect("Give the corrected text, different from the current one.")
    return _change(caption, text=text, removed=False, user=user)


def remove(caption: Caption, user) -> CaptionCorrection:
    return _change(caption, text="", removed=True, user=user)


def _change(caption: Caption, *, text: str, removed: bool, user) -> CaptionCorrection:
    with transaction.atomic():
        before = caption.text
        if removed:
            caption.removed = True
        else:
            caption.text, caption.removed = text, False
        caption.save(update_fields=["text", "removed"])
        logged = CaptionCorrection.objects.create(
            caption=caption,
            before=before,
            after=text,
            removed=removed,
            by=user if getattr(user, "is_authenticated", False) else None,
        )
    logger.info(
        "caption %s of stream %s %s by %s",
        caption.seq,
        caption.stream_id,
        "removed" if removed else "corrected",
        getattr(user, "username", "?"),
    )
    _tell_viewers(caption)
    return logged


def _tell_viewers(caption: Caption) -> None:
    message: CorrectionMessage = {
        "type": "correction",
        "seq": caption.seq,
        "text": "" if caption.removed else caption.text,
        "removed": caption.removed,
    }
    try:
        async_to_sync(get_channel_layer().group_send)(
            caption.stream.group_name, broadcast_event(message)
        )
    except Exception as error:  # the record changed: pages catch up at their next history
        logger.warning("could not tell viewers of a correction (%r)", error)
