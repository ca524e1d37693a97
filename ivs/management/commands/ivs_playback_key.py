import os
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from ivs import client, keys


class Command(BaseCommand):
    help = (
        "Generate an ECDSA P-384 playback key pair for IVS private channels: write the private "
        "key to a file (mode 600) and print the public key to import in the IVS console, or "
        "import it with --import (AWS credentials from the usual places)."
    )

    def add_arguments(self, parser) -> None:
        parser.add_argument("path", type=Path, help="where to write the private key (PEM)")
        parser.add_argument(
            "--import",
            dest="do_import",
            action="store_true",
            help="import the public key into IVS (ImportPlaybackKeyPair) and print its ARN",
        )
        parser.add_argument("--name", default="livestream", help="the key pair's name in IVS")
        parser.add_argument("--region", default=None, help="AWS region (default: AWS config)")
        parser.add_argument("--force", action="store_true", help="overwrite an existing file")

    def handle(self, *args, path: Path, do_import: bool, name: str, region, force: bool, **kw):
        key = keys.generate()
        flags = os.O_WRONLY | os.O_CREAT | (os.O_TRUNC if force else os.O_EXCL)
        try:
            fd = os.open(path, flags, 0o600)
        except FileExistsError:
            raise CommandError(f"{path} exists; pass --force to overwrite it.") from None
        with os.fdopen(fd, "wb") as out:
            out.write(keys.private_pem(key))
        os.chmod(path, 0o600)  # also when overwriting a file that had looser permissions
        self.stdout.write(f"Private key written to {path} (mode 600). In the site's environment:")
        self.stdout.write(f"  IVS_PLAYBACK_PRIVATE_KEY=file:{path.resolve()}")
        public = keys.public_pem(key)
        if not do_import:
            self.stdout.write(
                "Import this public key in the IVS console (Playback security › Playback keys "
                "› Import), then set IVS_PLAYBACK_KEY_ARN to the ARN it shows:"
            )
            self.stdout.write(public)
            return
        try:
            pair = client.import_playback_key_pair(public, name, region)
        except client.IvsCallFailed as error:
            raise CommandError(
                f"IVS refused the import ({error}). The private key is kept in {path}; import "
                f"this public key by hand:\n{public}"
            ) from None
        self.stdout.write(self.style.SUCCESS(f"Imported into IVS as {pair['arn']}"))
        self.stdout.write(f"  IVS_PLAYBACK_KEY_ARN={pair['arn']}")
        self.stdout.write(f"  fingerprint: {pair.get('fingerprint', '')}")
