import time

from django.core.management.base import BaseCommand
from django.db import close_old_connections

from ivs import revocations
from ivs.models import PlaybackGrant, Revocation


class Command(BaseCommand):
    help = (
        "Revoke at IVS the viewer sessions of codes that were revoked, deleted or have expired: "
        "finds expiries nobody triggered, sends every pending revocation that is due. Run it "
        "periodically (--loop SECONDS keeps it running)."
    )

    def add_arguments(self, parser) -> None:
        parser.add_argument(
            "--loop", type=float, default=0, metavar="SECONDS", help="repeat every SECONDS"
        )
        parser.add_argument(
            "--retry-failed", action="store_true", help="first put failed revocations back"
        )

    def handle(self, *args, loop: float, retry_failed: bool, **options) -> None:
        if retry_failed:
            self.stdout.write(f"{revocations.retry_failed()} failed revocation(s) to retry")
        while True:
            found = revocations.find_expired()
            sent = revocations.process_due()
            counts = {
                state: PlaybackGrant.objects.filter(revocation=state).count()
                for state in (Revocation.PENDING, Revocation.FAILED)
            }
            self.stdout.write(
                f"{found} newly expired or revoked, {sent} sent; "
                f"{counts[Revocation.PENDING]} pending, {counts[Revocation.FAILED]} failed"
            )
            if not loop:
                return
            close_old_connections()
            time.sleep(loop)
