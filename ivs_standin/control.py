"""IVS's control API (``ivs.<region>.amazonaws.com``): restJson1, SigV4-signed POSTs.

Reached by boto3 through ``AWS_ENDPOINT_URL_IVS``. Speaks the operations the site uses —
``StartViewerSessionRevocation`` (its revocations reach the playback side at once),
``ImportPlaybackKeyPair`` (the key then verifies tokens), ``ListPlaybackKeyPairs``,
``DeletePlaybackKeyPair`` — with IVS's validation and its error shapes: the type in
``x-amzn-ErrorType``, ``{"exceptionMessage": …}`` in the body. ``IvsState.faults`` makes the
next calls of an operation fail (e.g. ThrottlingException, or ``drop``: no answer at all).
"""

from __future__ import annotations

import json
import re
from http.server import BaseHTTPRequestHandler

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from ivs_standin import sigv4
from ivs_standin.state import Call, IvsState

CHANNEL_ARN = re.compile(r"arn:aws:ivs:[a-z0-9-]+:[0-9]+:channel/[a-zA-Z0-9-]+")
KEY_NAME = re.compile(r"[a-zA-Z0-9-_]*")
MAX_KEY_PAIRS = 3
STATUS = {
    "ValidationException": 400,
    "AccessDeniedException": 403,
    "PendingVerification": 403,
    "ResourceNotFoundException": 404,
    "ConflictException": 409,
    "ServiceQuotaExceededException": 402,
    "ThrottlingException": 429,
    "InternalServerException": 500,
    "UnrecognizedClientException": 403,
    "InvalidSignatureException": 403,
    "IncompleteSignatureException": 403,
    "UnknownOperationException": 404,
}


class IvsError(Exception):
    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code


class ControlHandler(BaseHTTPRequestHandler):
    server_version = "IVSStandin/1"
    state: IvsState

    def log_message(self, format: str, *args: object) -> None:
        pass

    def _answer(self, status: int, payload: dict, error: str = "") -> None:
        body = json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        if error:
            self.send_header("x-amzn-ErrorType", error)
        self.end_headers()
        self.wfile.write(body)

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        operation = self.path.strip("/").split("?")[0]
        headers = {name.lower(): value for name, value in self.headers.items()}
        region, access_key = "", ""
        try:
            signed = sigv4.verify(
                "POST", self.path.split("?")[0], "", headers, body, self.state.credentials, "ivs"
            )
            region, access_key = signed.region, signed.access_key
            fault = self.state.take_fault(operation)
            if fault == "drop":
                self._record(operation, body, region, access_key, 0)
                self.close_connection = True
                self.connection.shutdown(2)
                return
            if fault:
                raise IvsError(fault, f"{fault} (stand-in fault)")
            handler = getattr(self, f"op_{operation}", None)
            if handler is None:
                raise IvsError("UnknownOperationException", f"Unknown operation {operation}")
            payload = json.loads(body or b"{}")
            if not isinstance(payload, dict):
                raise IvsError("ValidationException", "Body must be a JSON object")
            status, result, error_type = 200, handler(payload, region), ""
        except (sigv4.SignatureError, IvsError) as error:
            status, result = STATUS.get(error.code, 400), {"exceptionMessage": str(error)}
            error_type = error.code
        except ValueError:
            status, result = 400, {"exceptionMessage": "Body is not JSON"}
            error_type = "ValidationException"
        # Recorded before answering: once the caller has its answer, the record is there.
        self._record(operation, body, region, access_key, status)
        self._answer(status, result, error_type)

    def _record(self, operation: str, body: bytes, region: str, key: str, status: int) -> None:
        try:
            recorded = json.loads(body or b"{}")
        except ValueError:
            recorded = {}
        with self.state.lock:
            self.state.calls.append(Call(operation, recorded, region, key, status))

    # --- operations ---

    def op_StartViewerSessionRevocation(self, body: dict, region: str) -> dict:
        arn, viewer_id = body.get("channelArn"), body.get("viewerId")
        version = body.get("viewerSessionVersionsLessThanOrEqualTo", 0)
        if not isinstance(arn, str) or not CHANNEL_ARN.fullmatch(arn) or len(arn) > 128:
            raise IvsError("ValidationException", "channelArn is not a channel ARN")
        if not isinstance(viewer_id, str) or not 1 <= len(viewer_id) <= 40:
            raise IvsError("ValidationException", "viewerId must have 1 to 40 characters")
        if not isinstance(version, int) or version < 0:
            raise IvsError("ValidationException", "viewerSessionVersionsLessThanOrEqualTo >= 0")
        if arn.split(":")[3] != region:
            # The regional endpoint knows only its own region's channels.
            raise IvsError("ResourceNotFoundException", f"No channel {arn} in {region}")
        if arn not in self.state.channels:
            raise IvsError("ResourceNotFoundException", f"No channel {arn}")
        self.state.revoke(arn, viewer_id, version)
        return {}

    def op_ImportPlaybackKeyPair(self, body: dict, region: str) -> dict:
        material, name = body.get("publicKeyMaterial"), body.get("name", "")
        if not isinstance(name, str) or not KEY_NAME.fullmatch(name) or len(name) > 128:
            raise IvsError("ValidationException", "name must match [a-zA-Z0-9-_]*")
        try:
            key = serialization.load_pem_public_key(str(material).encode())
        except ValueError:
            raise IvsError("ValidationException", "publicKeyMaterial is not a PEM key") from None
        if not isinstance(key, ec.EllipticCurvePublicKey) or key.curve.name != "secp384r1":
            raise IvsError("ValidationException", "The key must be ECDSA P-384")
        with self.state.lock:
            if any(pair.public_key == key for pair in self.state.keys.values()):
                raise IvsError("ConflictException", "This public key is already imported")
            if len(self.state.keys) >= MAX_KEY_PAIRS:
                raise IvsError("ServiceQuotaExceededException", "At most 3 playback key pairs")
            pair = self.state.import_key(region, name, key)
        return {"keyPair": _describe(pair)}

    def op_ListPlaybackKeyPairs(self, body: dict, region: str) -> dict:
        with self.state.lock:
            pairs = [_describe(pair) for pair in self.state.keys.values()]
        return {"keyPairs": [{k: v for k, v in p.items() if k != "fingerprint"} for p in pairs]}

    def op_DeletePlaybackKeyPair(self, body: dict, region: str) -> dict:
        with self.state.lock:
            if self.state.keys.pop(body.get("arn", ""), None) is None:
                raise IvsError("ResourceNotFoundException", "No such playback key pair")
        return {}


def _describe(pair) -> dict:
    return {"arn": pair.arn, "name": pair.name, "fingerprint": pair.fingerprint, "tags": {}}
