from django.core.management.base import BaseCommand

from gate.models import AccessCode, Role, format_code
from livestream.models import Stream

# AWS's public IVS test channel, always live (plays wherever the internet is reachable).
DEMO_PLAYBACK_URL = (
    "https://fcc3ddae59ed.us-west-2.playback.live-video.net/api/video/v1/"
    "us-west-2.893648527354.channel.DmumNckWFTqz.m3u8"
)


class Command(BaseCommand):
    help = "On an empty database, create a demo stream with a viewer and a captioner code."

    def add_arguments(self, parser) -> None:
        parser.add_argument("--playback-url", default=DEMO_PLAYBACK_URL)

    def handle(self, *args, playback_url: str, **options) -> None:
        if Stream.objects.exists():
            self.stdout.write("Streams exist already; nothing created.")
            for code in AccessCode.objects.usable().select_related("stream")[:5]:
                self.stdout.write(f"  {code.role:<9}  {format_code(code.code)}  ({code.stream})")
            return
        stream = Stream.objects.create(
            title="Demo stream", slug="demo", playback_url=playback_url, caption_language="en"
        )
        viewer = AccessCode.objects.create(stream=stream, role=Role.VIEWER, label="Demo viewers")
        captioner = AccessCode.objects.create(
            stream=stream, role=Role.CAPTIONER, label="Demo captioner"
        )
        self.stdout.write(self.style.SUCCESS(f"Created the stream “{stream}” at /watch/demo/"))
        self.stdout.write(f"  viewer code:    {format_code(viewer.code)}")
        self.stdout.write(f"  captioner code: {format_code(captioner.code)}")
