"""Start-up checks: a private stream with no signing key is an error in production.

Tagged ``database`` (it reads the streams), so it runs with ``manage.py migrate`` and
``manage.py check --database default``; the admin refuses such a stream too (Stream.clean).
"""

from django.conf import settings
from django.core.checks import Error, Tags, Warning, register

from ivs import keys


@register(Tags.database)
def private_streams_have_a_key(app_configs=None, databases=None, **kwargs) -> list:
    if not databases or keys.configured():
        return []
    from livestream.models import Stream

    try:
        private = list(Stream.objects.filter(is_private=True).values_list("slug", flat=True)[:5])
    except Exception:  # not migrated yet: nothing to check
        return []
    if not private:
        return []
    level = Warning if settings.DEBUG else Error
    return [
        level(
            f"Private streams ({', '.join(private)}) but no IVS_PLAYBACK_PRIVATE_KEY: their "
            "viewers cannot play the video.",
            hint="Set IVS_PLAYBACK_PRIVATE_KEY (see `manage.py ivs_playback_key`), or untick "
            "'private' on those streams.",
            id="ivs.E001",
        )
    ]
