"""Every call this site makes to Amazon IVS's API goes through here (boto3).

Standard AWS configuration: credentials from the usual chain (environment, shared files, an
instance or task role), ``AWS_ENDPOINT_URL_IVS`` / ``AWS_ENDPOINT_URL`` honoured by botocore
itself. The region of a call is the channel's own, read from its ARN. botocore's own retries
are off: ivs/revocations.py retries with its own backoff, so each attempt and its error are
recorded where an operator can see them.
"""

from __future__ import annotations

import functools

import boto3
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError, ConnectionError, HTTPClientError

# Worth trying again later; anything else (validation, access denied, an unknown channel,
# missing credentials) will fail the same way until someone changes something.
RETRYABLE_CODES = {
    "ThrottlingException",
    "TooManyRequestsException",
    "InternalServerException",
    "ServiceUnavailable",
    "ServiceUnavailableException",
    "RequestTimeout",
    "RequestTimeoutException",
}


class IvsCallFailed(Exception):
    def __init__(self, message: str, *, retryable: bool) -> None:
        super().__init__(message)
        self.retryable = retryable


def region_of(arn: str) -> str:
    return arn.split(":")[3]


@functools.lru_cache(maxsize=16)
def client(region: str | None = None):
    config = Config(
        retries={"total_max_attempts": 1},
        connect_timeout=5,
        read_timeout=10,
        user_agent_appid="livestream",
    )
    return boto3.session.Session().client("ivs", region_name=region, config=config)


def _failure(error: Exception) -> IvsCallFailed:
    if isinstance(error, ClientError):
        info = error.response.get("Error", {})
        code = info.get("Code", "Unknown")
        status = error.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0)
        retryable = code in RETRYABLE_CODES or status == 429 or status >= 500
        # IVS's error shapes carry their text in exceptionMessage, which botocore leaves out
        # of Error.Message.
        text = info.get("Message") or error.response.get("exceptionMessage") or ""
        message = f"{code} (HTTP {status}): {text}".strip()
        return IvsCallFailed(message, retryable=retryable)
    retryable = isinstance(error, ConnectionError | HTTPClientError)
    return IvsCallFailed(f"{type(error).__name__}: {error}", retryable=retryable)


def start_viewer_session_revocation(channel_arn: str, viewer_id: str, version: int) -> None:
    """Revoke ``viewer_id``'s sessions on the channel, every version up to ``version``.

    The version must be passed: IVS's default (0) would leave a session of version 1 playing.
    """
    try:
        client(region_of(channel_arn)).start_viewer_session_revocation(
            channelArn=channel_arn,
            viewerId=viewer_id,
            viewerSessionVersionsLessThanOrEqualTo=version,
        )
    except (ClientError, BotoCoreError) as error:
        raise _failure(error) from error


def import_playback_key_pair(public_pem: str, name: str, region: str | None) -> dict:
    try:
        return client(region).import_playback_key_pair(publicKeyMaterial=public_pem, name=name)[
            "keyPair"
        ]
    except (ClientError, BotoCoreError) as error:
        raise _failure(error) from error
