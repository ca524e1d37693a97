import gc
import os

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "livestream.settings")
http_application = get_asgi_application()

# Imported after Django is set up: consumers import models.
from channels.auth import AuthMiddlewareStack  # noqa: E402
from channels.routing import ProtocolTypeRouter, URLRouter  # noqa: E402
from django.conf import settings  # noqa: E402

from captions.frames import DirectSockets  # noqa: E402
from captions.routing import websocket_urlpatterns  # noqa: E402
from gate.origin import SameOriginValidator  # noqa: E402
from livestream.connection_limits import ConnectionLimits  # noqa: E402
from livestream.socket_errors import ServerErrorGuard  # noqa: E402

application = DirectSockets(
    ProtocolTypeRouter(
        {
            "http": http_application,
            # Cheapest refusals first: per-address limits, then the Origin, then the grant.
            "websocket": ConnectionLimits(
                SameOriginValidator(
                    ServerErrorGuard(AuthMiddlewareStack(URLRouter(websocket_urlpatterns)))
                )
            ),
        }
    )
)

# A server process lives long and holds thousands of connections. Everything loaded at start-up
# stays for good: frozen, it is left out of every garbage collection, so the full collections
# that scan every live object pause the event loop for much less. Young collections are made
# rarer too: a caption sent to thousands of viewers allocates many short-lived objects.
gc.freeze()
gc.set_threshold(settings.GC_GEN0_THRESHOLD, *gc.get_threshold()[1:])
