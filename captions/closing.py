"""Close codes the server sends after accepting a websocket.

Daphne's websocket layer (Autobahn) lets a server send only 1000 or 3000-4999; anything else
raises inside the server and the client sees a bare 1011. The application's own codes therefore
live in 4xxx, read as "4" + the nearest HTTP status. Browsers and tests rely on these numbers:
they are listed in the README and in the architecture document.
"""

from enum import IntEnum


class Close(IntEnum):
    NORMAL = 1000  # the captioner asked to stop
    UNSUPPORTED = 4400  # malformed or unsupported data (text for audio, odd-length PCM, …)
    REVOKED = 4403  # the access code was revoked or expired
    FLOOD = 4408  # too many messages or bytes: a flood, or audio faster than real time
    BUSY = 4409  # someone else is captioning this stream
    TOO_LARGE = 4413  # a frame over the documented cap
    SERVER_ERROR = 4500  # the server failed; a status message said what happened
