"""Checking AWS Signature Version 4 on a request, as AWS's own front ends do.

Written from AWS's description of SigV4 (canonical request, string to sign, the derived
signing key), independently of botocore's signer, so a request the stand-in accepts is one
AWS would accept too: the right access key and secret, service, region and date, and every
signed header and the body unchanged.
"""

from __future__ import annotations

import hashlib
import hmac
import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from urllib.parse import parse_qsl, quote

ALGORITHM = "AWS4-HMAC-SHA256"
MAX_SKEW = timedelta(minutes=15)
_AUTHORIZATION = re.compile(
    r"AWS4-HMAC-SHA256 Credential=(?P<key>[^/]+)/(?P<date>\d{8})/(?P<region>[^/]+)/"
    r"(?P<service>[^/]+)/aws4_request, ?SignedHeaders=(?P<signed>[a-z0-9;\-]+), ?"
    r"Signature=(?P<signature>[0-9a-f]{64})"
)


class SignatureError(Exception):
    """Refused: ``code`` is the error type AWS answers with (HTTP 403)."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code


@dataclass(frozen=True)
class Signed:
    access_key: str
    region: str
    service: str


def _hmac(key: bytes, text: str) -> bytes:
    return hmac.new(key, text.encode(), hashlib.sha256).digest()


def signing_key(secret: str, date: str, region: str, service: str) -> bytes:
    key = _hmac(f"AWS4{secret}".encode(), date)
    for part in (region, service, "aws4_request"):
        key = _hmac(key, part)
    return key


def canonical_request(
    method: str, path: str, query: str, headers: dict[str, str], signed: list[str], body: bytes
) -> str:
    pairs = sorted(
        (quote(name, safe="-_.~"), quote(value, safe="-_.~"))
        for name, value in parse_qsl(query, keep_blank_values=True)
    )
    canonical_headers = "".join(
        f"{name}:{' '.join(headers.get(name, '').split())}\n" for name in signed
    )
    payload = headers.get("x-amz-content-sha256") or hashlib.sha256(body).hexdigest()
    return "\n".join(
        [
            method,
            quote(path or "/", safe="/-_.~%"),
            "&".join(f"{name}={value}" for name, value in pairs),
            canonical_headers,
            ";".join(signed),
            payload,
        ]
    )


def verify(
    method: str,
    path: str,
    query: str,
    headers: dict[str, str],
    body: bytes,
    credentials: dict[str, str],
    service: str,
    now: datetime | None = None,
) -> Signed:
    """The signer, when the request is signed right for ``service``; else SignatureError.

    ``headers`` with lower-case names; ``credentials`` maps access key ids to secrets.
    """
    authorization = headers.get("authorization", "")
    match = _AUTHORIZATION.fullmatch(authorization.strip())
    if match is None:
        raise SignatureError("IncompleteSignatureException", "Authorization is not SigV4.")
    secret = credentials.get(match["key"])
    if secret is None:
        raise SignatureError(
            "UnrecognizedClientException", "The security token included in the request is invalid."
        )
    if match["service"] != service:
        raise SignatureError(
            "InvalidSignatureException", f"Credential should be scoped to {service}."
        )
    amz_date = headers.get("x-amz-date", "")
    try:
        when = datetime.strptime(amz_date, "%Y%m%dT%H%M%SZ").replace(tzinfo=UTC)
    except ValueError:
        raise SignatureError("IncompleteSignatureException", "X-Amz-Date is missing.") from None
    if not amz_date.startswith(match["date"]):
        raise SignatureError("InvalidSignatureException", "Credential date is not X-Amz-Date's.")
    if abs((now or datetime.now(UTC)) - when) > MAX_SKEW:
        raise SignatureError("InvalidSignatureException", "Signature expired.")
    signed = match["signed"].split(";")
    if "host" not in signed or signed != sorted(signed):
        raise SignatureError("InvalidSignatureException", "SignedHeaders must include host.")
    request = canonical_request(method, path, query, headers, signed, body)
    scope = f"{match['date']}/{match['region']}/{service}/aws4_request"
    to_sign = "\n".join([ALGORITHM, amz_date, scope, hashlib.sha256(request.encode()).hexdigest()])
    key = signing_key(secret, match["date"], match["region"], service)
    expected = hmac.new(key, to_sign.encode(), hashlib.sha256).hexdigest()
    if not hmac.compare_digest(expected, match["signature"]):
        raise SignatureError(
            "InvalidSignatureException",
            "The request signature we calculated does not match the signature you provided.",
        )
    return Signed(match["key"], match["region"], service)
