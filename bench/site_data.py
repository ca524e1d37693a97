"""Data and settings of the site under test, read through Django with the bench's environment.

``python -m bench.site_data SLUG`` creates a stream with a viewer and a captioner code (neither
has a use limit) and prints them as JSON; ``python -m bench.site_data --settings`` prints the
settings that shape the figures (database connections, static files, garbage collection).
"""

import json
import sys

import django


def create_stream(slug: str) -> dict:
    from gate.models import AccessCode, Role
    from livestream.models import Stream

    stream = Stream.objects.create(
        title=f"Bench {slug}", slug=slug, playback_url="https://example.invalid/bench.m3u8"
    )
    viewer = AccessCode.objects.create(stream=stream, role=Role.VIEWER, label="bench viewers")
    captioner = AccessCode.objects.create(
        stream=stream, role=Role.CAPTIONER, label="bench captioner"
    )
    return {"slug": slug, "viewer_code": viewer.code, "captioner_code": captioner.code}


def effective_settings() -> dict:
    from django.conf import settings

    database = settings.DATABASES["default"]
    pool = database.get("OPTIONS", {}).get("pool")
    return {
        "DEBUG": settings.DEBUG,
        "database": database["ENGINE"].rsplit(".", 1)[-1],
        "database connections": (
            f"pool {pool}" if pool else f"CONN_MAX_AGE={database.get('CONN_MAX_AGE', 0)}"
        ),
        "static files": settings.STORAGES["staticfiles"]["BACKEND"].rsplit(".", 1)[-1],
        "GC_GEN0_THRESHOLD": getattr(settings, "GC_GEN0_THRESHOLD", "(not a setting)"),
    }


if __name__ == "__main__":
    django.setup()
    if sys.argv[1] == "--settings":
        print(json.dumps(effective_settings()))
    else:
        print(json.dumps(create_stream(sys.argv[1])))
