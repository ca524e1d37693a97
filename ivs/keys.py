"""The playback key pair: the private key that signs viewers' playback tokens.

It comes from ``IVS_PLAYBACK_PRIVATE_KEY`` (PEM text, or ``file:/path``), like the speech
service's key: it is never logged, never put in a page, and an error about it never quotes it.
"""

from __future__ import annotations

import functools
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured

CURVE = ec.SECP384R1  # ES384: ECDSA with P-384 and SHA-384, the only algorithm IVS accepts


def configured() -> bool:
    return bool(settings.IVS_PLAYBACK_PRIVATE_KEY)


def private_key() -> ec.EllipticCurvePrivateKey:
    """The signing key; ImproperlyConfigured when it is missing or unusable."""
    return _load(settings.IVS_PLAYBACK_PRIVATE_KEY)


@functools.lru_cache(maxsize=4)
def _load(value: str) -> ec.EllipticCurvePrivateKey:
    if not value:
        raise ImproperlyConfigured("IVS_PLAYBACK_PRIVATE_KEY is not set.")
    if value.startswith("file:"):
        path = Path(value.removeprefix("file:"))
        try:
            pem = path.read_bytes()
        except OSError as error:
            raise ImproperlyConfigured(
                f"IVS_PLAYBACK_PRIVATE_KEY: cannot read {path} ({error.strerror})."
            ) from None
    else:
        # An environment variable often carries the PEM's line breaks as the two characters \n.
        pem = value.replace("\\n", "\n").encode()
    try:
        key = serialization.load_pem_private_key(pem, password=None)
    except (ValueError, TypeError):
        # `from None`: the parser's own message could quote part of the key.
        raise ImproperlyConfigured(
            "IVS_PLAYBACK_PRIVATE_KEY is not a PEM private key without a passphrase."
        ) from None
    if not isinstance(key, ec.EllipticCurvePrivateKey) or not isinstance(key.curve, CURVE):
        raise ImproperlyConfigured(
            "IVS_PLAYBACK_PRIVATE_KEY must be an ECDSA P-384 (secp384r1) key: IVS verifies "
            "playback tokens with ES384 only."
        )
    return key


def generate() -> ec.EllipticCurvePrivateKey:
    return ec.generate_private_key(CURVE())


def private_pem(key: ec.EllipticCurvePrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )


def public_pem(key: ec.EllipticCurvePrivateKey | ec.EllipticCurvePublicKey) -> str:
    public = key.public_key() if isinstance(key, ec.EllipticCurvePrivateKey) else key
    return public.public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    ).decode()
