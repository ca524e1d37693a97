"""``manage.py rundemo [addrport]``: the development server, with the offline demo in it.

Daphne's ``runserver`` (autoreload, static files, websockets) plus, in the server process, the
demo broadcast (:mod:`demo.broadcast`: a live stream made here, served at ``/demo-live/``) and
a caption worker (:mod:`captions.worker`) that captions it from its own audio: in development
the channel layer is the server process's memory, so the worker must live there to reach its
viewers. On start it makes sure the stream "Offline demo" exists, pointed at this server, and
prints its viewer code. Development only (``DEBUG``); in production run ``caption_worker``
processes beside Daphne. Ctrl-C stops the server, the worker and ffmpeg.
"""

from __future__ import annotations

import asyncio
import atexit
import os
from urllib.parse import urlsplit

from daphne.management.commands.runserver import Command as RunserverCommand
from django.conf import settings
from django.core.management.base import CommandError
from django.db import DatabaseError

from captions.worker.runner import Worker, worker_name
from demo.broadcast import OUTPUT, PLAYLIST, Broadcast
from gate.models import AccessCode, Role, format_code
from livestream.models import LOOPBACK, Stream

SLUG = "offline-demo"


def demo_engine() -> str:
    """Deepgram when a real account is set up, else the local engine: the Deepgram stand-in
    ``make run`` starts without a key only repeats canned lines, and this stream has words."""
    host = urlsplit(settings.DEEPGRAM_URL).hostname or ""
    return "" if settings.DEEPGRAM_API_KEY and host not in LOOPBACK else "local"


class Command(RunserverCommand):
    help = (
        "The development server with the offline demo: a live stream made on this machine, "
        "captioned from its own audio (DEBUG only)."
    )

    def handle(self, *args, **options) -> None:
        if not settings.DEBUG:
            raise CommandError("rundemo is for development (DEBUG=true) only.")
        super().handle(*args, **options)

    def run(self, **options) -> None:
        if os.environ.get("RUN_MAIN") != "true":  # not again in the autoreloader's child
            self._demo_stream()
        super().run(**options)

    def inner_run(self, *args, **options) -> None:
        broadcast = Broadcast()
        broadcast.start()
        atexit.register(broadcast.stop)
        self._start_worker()
        try:
            super().inner_run(*args, **options)
        finally:
            broadcast.stop()

    def log_action(self, protocol, action, details) -> None:
        if not str(details.get("path", "")).startswith("/demo-live/"):  # two a second, and more
            super().log_action(protocol, action, details)

    def _start_worker(self) -> None:
        from daphne.server import twisted_loop  # the loop Daphne serves on

        worker = Worker(name=f"{worker_name()} (rundemo)")

        async def run() -> None:
            for _ in range(100):  # ffmpeg's first segment takes a couple of seconds
                if (OUTPUT / PLAYLIST).exists():
                    break
                await asyncio.sleep(0.1)
            await worker.run()

        def start() -> None:
            self._worker_task = twisted_loop.create_task(run())

        twisted_loop.call_soon_threadsafe(start)

    def _demo_stream(self) -> None:
        host = "127.0.0.1" if self.addr in ("0.0.0.0", "::", "") else self.addr  # noqa: S104
        host = f"[{host}]" if ":" in host else host
        fields = {
            "playback_url": f"http://{host}:{self.port}/demo-live/{PLAYLIST}",
            "caption_source": "stream",
            "caption_engine": demo_engine(),
        }
        try:
            stream, _ = Stream.objects.update_or_create(
                slug=SLUG,
                defaults=fields,
                create_defaults={**fields, "title": "Offline demo", "caption_language": "en"},
            )
            codes = list(AccessCode.objects.usable().filter(stream=stream, role=Role.VIEWER))
            if not codes:
                codes = [
                    AccessCode.objects.create(
                        stream=stream, role=Role.VIEWER, label="Offline demo viewers"
                    )
                ]
        except DatabaseError as error:
            raise CommandError(f"{error}: run `manage.py migrate` first.") from None
        engine = "the local engine" if fields["caption_engine"] == "local" else "Deepgram"
        self.stdout.write(
            self.style.SUCCESS(
                f"Offline demo: a live stream made on this machine, captioned from its own "
                f"audio by {engine}, at /watch/{SLUG}/ (no internet needed)"
            )
        )
        for code in codes[:3]:
            self.stdout.write(f"  viewer code:    {format_code(code.code)}")
