"""Logging filters referenced from ``LOGGING`` in settings."""

from __future__ import annotations

import logging


class OneLineSecurityEvent(logging.Filter):
    """A ``django.security.*`` event as one WARNING line, without a traceback.

    Django logs each ``SuspiciousOperation`` (a POST over ``DATA_UPLOAD_MAX_MEMORY_SIZE``, too
    many fields, a Host header not in ``ALLOWED_HOSTS``…) at ERROR with the full traceback, and
    answers 400. Anyone can send those at will: one line saying what and where is enough, and
    a log that scrolls tracebacks for them hides real errors.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        if record.levelno > logging.WARNING:
            record.levelno = logging.WARNING
            record.levelname = logging.getLevelName(logging.WARNING)
        if record.exc_info is None:
            return True  # already one line, e.g. a CSRF refusal
        record.exc_info = None
        record.exc_text = None
        record.stack_info = None
        request = getattr(record, "request", None)
        if request is not None and hasattr(request, "get_full_path"):
            # get_full_path() is percent-encoded: no line breaks from the client in the log.
            record.msg = f"{record.getMessage()} ({request.method} {request.get_full_path()})"
            record.args = ()
        return True
