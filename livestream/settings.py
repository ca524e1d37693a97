"""Settings for the livestream site.

Every value that differs between machines comes from the environment (or a ``.env`` file
beside ``manage.py``); ``.env.example`` lists them all. Development gets working defaults;
with ``DEBUG`` off, what production must set has no default.
"""

from pathlib import Path

import environ
from django.core.exceptions import ImproperlyConfigured

from livestream.redis_names import channel_layer_prefix

BASE_DIR = Path(__file__).resolve().parent.parent

env = environ.Env()
environ.Env.read_env(BASE_DIR / ".env", overwrite=False)

# --- Core ------------------------------------------------------------------------------------

DEBUG = env.bool("DEBUG", default=True)


def _required(name: str, value: object) -> None:
    if not value:
        raise ImproperlyConfigured(
            f"{name} must be set when DEBUG is off (see .env.example). "
            f"Refusing to start without it."
        )


SECRET_KEY = env.str("SECRET_KEY", default="")
ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=[])
if DEBUG:
    SECRET_KEY = SECRET_KEY or "django-insecure-development-only-key"
    ALLOWED_HOSTS = ALLOWED_HOSTS or ["localhost", "127.0.0.1", "[::1]", "testserver"]
else:
    _required("SECRET_KEY", SECRET_KEY)
    _required("ALLOWED_HOSTS", ALLOWED_HOSTS)
if "*" in ALLOWED_HOSTS:
    # A wildcard would let any Origin through the websocket origin check.
    raise ImproperlyConfigured("ALLOWED_HOSTS must list the site's hosts; '*' is refused.")

CSRF_TRUSTED_ORIGINS = env.list("CSRF_TRUSTED_ORIGINS", default=[])

INSTALLED_APPS = [
    # Daphne first: its runserver serves HTTP and websockets.
    "daphne",
    # Django
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    # Third party
    "channels",
    # Local
    "livestream",
    "gate",
    "captions",
]

MIDDLEWARE = [
    # Load balancers' /healthz probes: no HTTPS redirect, no ALLOWED_HOSTS (livestream/health.py).
    "livestream.health.HealthCheckFirst",
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "livestream.csp.ContentSecurityPolicyMiddleware",
]

ROOT_URLCONF = "livestream.urls"
ASGI_APPLICATION = "livestream.asgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

# --- Data ------------------------------------------------------------------------------------

DATABASES = {
    "default": env.db("DATABASE_URL", default=f"sqlite:///{BASE_DIR / 'db.sqlite3'}"),
}
if DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql" and env.bool(
    "DATABASE_POOL", default=True
):
    # A connection pool per process: ORM calls from consumers (thread pool) and views reuse
    # open connections instead of connecting for each caption or page.
    DATABASES["default"].setdefault("OPTIONS", {})["pool"] = {
        "min_size": env.int("DATABASE_POOL_MIN", default=2),
        "max_size": env.int("DATABASE_POOL_MAX", default=10),
        # How long a request waits for a connection. Under Daphne's 5 s websocket handshake
        # deadline, so a database outage answers a handshake with a status and 4500, not silence.
        "timeout": env.float("DATABASE_POOL_TIMEOUT", default=3.0),
    }
    # With a pool, Django checks each connection as the pool hands it out: after a database
    # outage, the connections it broke are replaced instead of failing one request each.
    DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
else:
    DATABASES["default"]["CONN_MAX_AGE"] = env.int("CONN_MAX_AGE", default=0)
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

REDIS_URL = env.str("REDIS_URL", default="")

if REDIS_URL:
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": REDIS_URL,
            "KEY_PREFIX": "livestream",
        }
    }
    CHANNEL_LAYERS = {
        "default": {
            "BACKEND": env.str(
                "CHANNEL_LAYER_BACKEND", default="channels_redis.pubsub.RedisPubSubChannelLayer"
            ),
            # RedisChannelLayer's receive blocks in Redis for up to 5 s, and redis-py's socket
            # timeout is 5 s too: the read gave up just as Redis answered. Wait longer.
            "CONFIG": {
                "hosts": [{"address": REDIS_URL, "socket_timeout": 15}],
                # Pub/sub ignores Redis database numbers: see livestream/redis_names.py.
                "prefix": channel_layer_prefix(
                    REDIS_URL, env.str("CHANNEL_LAYER_PREFIX", default="")
                ),
            },
        }
    }
else:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
    CHANNEL_LAYERS = {
        "default": {
            "BACKEND": "channels.layers.InMemoryChannelLayer",
            "CONFIG": {"capacity": 1000},
        }
    }

# --- Sessions, cookies and HTTPS ------------------------------------------------------------

SESSION_ENGINE = "django.contrib.sessions.backends.db"
SESSION_COOKIE_AGE = env.int("SESSION_COOKIE_AGE", default=12 * 60 * 60)
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Lax"
CSRF_COOKIE_HTTPONLY = True
CSRF_COOKIE_SAMESITE = "Lax"
SESSION_COOKIE_SECURE = not DEBUG
CSRF_COOKIE_SECURE = not DEBUG
SECURE_SSL_REDIRECT = env.bool("SECURE_SSL_REDIRECT", default=not DEBUG)
SECURE_HSTS_SECONDS = env.int("SECURE_HSTS_SECONDS", default=0 if DEBUG else 31536000)
SECURE_HSTS_INCLUDE_SUBDOMAINS = not DEBUG
SECURE_HSTS_PRELOAD = env.bool("SECURE_HSTS_PRELOAD", default=False)
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"
if env.bool("BEHIND_TLS_PROXY", default=False):
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SILENCED_SYSTEM_CHECKS = [] if SECURE_HSTS_PRELOAD else ["security.W021"]

# Number of reverse proxies in front of the site that append to X-Forwarded-For. 0 (the
# default) means X-Forwarded-For is ignored and the socket's peer address is the client.
TRUSTED_PROXY_COUNT = env.int("TRUSTED_PROXY_COUNT", default=0)

# --- Static files ----------------------------------------------------------------------------

STATIC_URL = "/static/"
STATIC_ROOT = env.path("STATIC_ROOT", default=BASE_DIR / "staticfiles")
STATICFILES_DIRS = [BASE_DIR / "static"]
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": (
            "django.contrib.staticfiles.storage.StaticFilesStorage"
            if DEBUG
            else "whitenoise.storage.CompressedManifestStaticFilesStorage"
        )
    },
}
WHITENOISE_MIMETYPES = {".wasm": "application/wasm"}
WHITENOISE_USE_FINDERS = DEBUG
WHITENOISE_AUTOREFRESH = DEBUG

# --- Auth ------------------------------------------------------------------------------------

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
LOGIN_URL = "/admin/login/"

# Admin sign-in attempts (django-axes): after ADMIN_LOGIN_FAILURE_LIMIT wrong passwords from one
# client IP, or for one user name, that IP or user name is refused (429) for
# ADMIN_LOGIN_COOLOFF_MINUTES. Counted in the shared cache (Redis when REDIS_URL is set), so
# every process agrees. Unlock sooner: `manage.py axes_reset_ip IP`, `axes_reset_username NAME`.
INSTALLED_APPS += ["axes"]
MIDDLEWARE += ["axes.middleware.AxesMiddleware"]  # last, as django-axes requires
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",  # first: refuses a blocked client before checking
    "django.contrib.auth.backends.ModelBackend",
]
AXES_HANDLER = "axes.handlers.cache.AxesCacheHandler"
AXES_FAILURE_LIMIT = env.int("ADMIN_LOGIN_FAILURE_LIMIT", default=10)
AXES_COOLOFF_TIME = env.float("ADMIN_LOGIN_COOLOFF_MINUTES", default=15) / 60  # in hours
AXES_LOCKOUT_PARAMETERS = ["ip_address", "username"]  # either one reaching the limit blocks
AXES_CLIENT_IP_CALLABLE = "gate.client_ip.client_ip"  # honours TRUSTED_PROXY_COUNT
AXES_LOCKOUT_CALLABLE = "livestream.lockout.locked_out"
AXES_RESET_ON_SUCCESS = True
# The cool-off runs from the failure that caused the block: attempts while blocked (they never
# reach a password check) do not extend it.
AXES_RESET_COOL_OFF_ON_FAILURE_DURING_LOCKOUT = False
# django-axes' admin pages list database records, which its cache handler never writes.
AXES_ENABLE_ADMIN = False
# Its log lines name the client's address (what `axes_reset_ip` needs) but mask user names,
# which are sometimes a password typed into the wrong box.
AXES_SENSITIVE_PARAMETERS = ["username"]
if not REDIS_URL:
    # Without Redis the site is one process (in-memory channel layer), whose local-memory
    # cache holds the only counts there are: django-axes' warning about it does not apply.
    SILENCED_SYSTEM_CHECKS += ["axes.W001"]

# --- The gate --------------------------------------------------------------------------------

# How long an accepted code's grant lasts in a session before the code must be entered again.
GATE_GRANT_MAX_AGE = env.int("GATE_GRANT_MAX_AGE", default=12 * 60 * 60)
# Code attempts per client IP, and per IP + code, within GATE_RATE_WINDOW seconds.
GATE_RATE_LIMIT_PER_IP = env.int("GATE_RATE_LIMIT_PER_IP", default=20)
GATE_RATE_LIMIT_PER_CODE = env.int("GATE_RATE_LIMIT_PER_CODE", default=5)
GATE_RATE_WINDOW = env.int("GATE_RATE_WINDOW", default=300)
# How often open websockets re-check that their code is still usable (seconds).
GATE_SOCKET_RECHECK = env.float("GATE_SOCKET_RECHECK", default=1.0)

# --- The player ------------------------------------------------------------------------------

IVS_PLAYER_VERSION = "1.56.1"
# Where the IVS Web Player SDK is loaded from. "local" serves the copy `make ivs-sdk` builds
# from npm into static/ivs/ (never committed: the SDK's license forbids it).
IVS_PLAYER_SCRIPT_URL = env.str(
    "IVS_PLAYER_SCRIPT_URL",
    default=f"https://player.live-video.net/{IVS_PLAYER_VERSION}/amazon-ivs-player.min.js",
)

# --- IVS private channels ----------------------------------------------------------------------

# Private streams (Stream.is_private) play only with a per-viewer playback token signed by this
# key (ivs/). The private key of the playback key pair: PEM text (newlines may be written \n)
# or file:/path/to/key.pem. Never logged, never in a page. IVS_PLAYBACK_KEY_ARN names the
# imported public key, for reference (`manage.py ivs_playback_key` makes and imports a pair).
INSTALLED_APPS += ["ivs"]
IVS_PLAYBACK_PRIVATE_KEY = env.str("IVS_PLAYBACK_PRIVATE_KEY", default="")
IVS_PLAYBACK_KEY_ARN = env.str("IVS_PLAYBACK_KEY_ARN", default="")
# Seconds a playback token may be used to start playing. IVS refuses more than 600 (10 minutes)
# for a token with a viewer id; it checks the token only when playback starts.
IVS_PLAYBACK_TOKEN_SECONDS = env.int("IVS_PLAYBACK_TOKEN_SECONDS", default=300)
if not 1 <= IVS_PLAYBACK_TOKEN_SECONDS <= 600:
    raise ImproperlyConfigured("IVS_PLAYBACK_TOKEN_SECONDS must be between 1 and 600.")
# Revoking viewer sessions at IVS when a code is revoked or expires (ivs/revocations.py):
# "thread" sends them at once from a background thread of the process that revoked the code;
# "off" leaves them to `manage.py ivs_revocations`, which also finds expiries nobody triggered.
IVS_REVOCATION_WORKER = env.str("IVS_REVOCATION_WORKER", default="thread")
# Attempts before a revocation is marked failed, and the delay before the first retry (doubled
# after each throttled or failed call, at most IVS_REVOCATION_BACKOFF_MAX seconds).
IVS_REVOCATION_MAX_ATTEMPTS = env.int("IVS_REVOCATION_MAX_ATTEMPTS", default=8)
IVS_REVOCATION_BACKOFF = env.float("IVS_REVOCATION_BACKOFF", default=2.0)
IVS_REVOCATION_BACKOFF_MAX = env.float("IVS_REVOCATION_BACKOFF_MAX", default=300.0)

# --- Captions --------------------------------------------------------------------------------

# "deepgram" (DEEPGRAM_API_KEY below) or "local" (PocketSphinx on this machine, US English, far
# less accurate): Deepgram when a key is set, else the local engine.
CAPTIONS_ENGINE = env.str("CAPTIONS_ENGINE", default="") or (
    "deepgram" if env.str("DEEPGRAM_API_KEY", default="") else "local"
)
# How long a captioning lease outlives its holder (a crashed process). Refreshed every third.
CAPTIONS_LEASE_SECONDS = env.int("CAPTIONS_LEASE_SECONDS", default=15)
DEEPGRAM_API_KEY = env.str("DEEPGRAM_API_KEY", default="")
DEEPGRAM_URL = env.str("DEEPGRAM_URL", default="wss://api.deepgram.com/v1/listen")
DEEPGRAM_MODEL = env.str("DEEPGRAM_MODEL", default="nova-3")
# Engine tuning (backoff, buffer, timeouts): see docs/speech-engine.md. Not from the environment.
CAPTIONS_ENGINE_OPTIONS: dict = {}

# --- Monitoring -------------------------------------------------------------------------------

# /metrics answers only with "Authorization: Bearer <METRICS_TOKEN>"; unset, it is a 404.
# PROMETHEUS_MULTIPROC_DIR (read by prometheus-client itself) joins several processes' numbers.
METRICS_TOKEN = env.str("METRICS_TOKEN", default="")

# --- Server process ---------------------------------------------------------------------------

# Allocations between young garbage collections (Python's default is 700); see livestream/asgi.py.
GC_GEN0_THRESHOLD = env.int("GC_GEN0_THRESHOLD", default=50_000)

# --- Connection limits -----------------------------------------------------------------------

# Per client address and per server process (livestream/connection_limits.py); the shipped
# nginx config (deploy/nginx/livestream.conf) holds the same numbers across all processes.
# A venue's viewers behind one NAT address count as one client. 0 turns a limit off.
WS_MAX_PER_IP = env.int("WS_MAX_PER_IP", default=1000)
WS_HANDSHAKES_PER_SECOND = env.float("WS_HANDSHAKES_PER_SECOND", default=20.0)
WS_HANDSHAKE_BURST = env.int("WS_HANDSHAKE_BURST", default=1000)

# --- i18n ------------------------------------------------------------------------------------

LANGUAGE_CODE = "en-us"
TIME_ZONE = env.str("TIME_ZONE", default="UTC")
USE_I18N = True
USE_TZ = True

# --- Logging ---------------------------------------------------------------------------------

# One line per event. LOG_FORMAT=json writes each as a JSON object (time, level, logger,
# message and any extra fields) for a log pipeline; plain text otherwise.
LOG_FORMAT = env.str("LOG_FORMAT", default="plain")
_LOG_FORMATTERS = {
    "plain": {"format": "%(asctime)s %(levelname)s %(name)s: %(message)s"},
    "json": {
        "()": "pythonjsonlogger.json.JsonFormatter",
        "format": "%(asctime)s %(levelname)s %(name)s %(message)s",
        "rename_fields": {"asctime": "time", "levelname": "level", "name": "logger"},
    },
}
if LOG_FORMAT not in _LOG_FORMATTERS:
    raise ImproperlyConfigured("LOG_FORMAT must be 'plain' or 'json'.")

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": _LOG_FORMATTERS[LOG_FORMAT]},
    "filters": {"one_line": {"()": "livestream.log_filters.OneLineSecurityEvent"}},
    "handlers": {
        "console": {"class": "logging.StreamHandler", "formatter": "plain"},
        "security": {
            "class": "logging.StreamHandler",
            "formatter": "plain",
            "filters": ["one_line"],
        },
    },
    "root": {"handlers": ["console"], "level": env.str("LOG_LEVEL", default="INFO")},
    "loggers": {
        # Requests Django refuses as suspicious (a POST over DATA_UPLOAD_MAX_MEMORY_SIZE, a bad
        # Host header…): one WARNING line each instead of an ERROR with a traceback.
        "django.security": {"handlers": ["security"], "level": "INFO", "propagate": False},
        # At DEBUG the websockets library logs every handshake header, the speech service's
        # Authorization header included: never let it log below INFO.
        "websockets": {"level": "INFO"},
        # Django's own default handler for "django" (DEBUG only, message without time or level)
        # would print every development request a second time: the root handler is enough.
        "django": {"handlers": [], "level": "INFO", "propagate": True},
        # The speech engine's wire log (one line per audio frame at DEBUG).
        "captions.speech.wire": {"level": "INFO"},
    },
}
