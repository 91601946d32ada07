"""Connect's settings: the environment is read once here; code reads settings.CONNECT_*."""
import os
from pathlib import Path

import environ
from django.core.exceptions import ImproperlyConfigured

BASE_DIR = Path(__file__).resolve().parent.parent

env = environ.Env()
if (BASE_DIR / ".env").exists():
    # Variables already in the environment win over the file.
    environ.Env.read_env(BASE_DIR / ".env", overwrite=False)

DEBUG = env.bool("DEBUG", default=False)
SECRET_KEY = env.str("SECRET_KEY", default="")
if not SECRET_KEY:
    if not DEBUG:
        raise ImproperlyConfigured(
            "SECRET_KEY is not set. Run `make run` once (it writes .env) or set SECRET_KEY in the environment."
        )
    SECRET_KEY = "insecure-development-only-key"

ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=["127.0.0.1", "localhost"])
CSRF_TRUSTED_ORIGINS = env.list("CSRF_TRUSTED_ORIGINS", default=[])

# Fernet keys for secrets at rest: the first encrypts, all decrypt (rotation).
# Spaces around the commas are not part of a key ("new, old" must still decrypt with "old").
FERNET_KEYS = [key.strip() for key in env.list("FERNET_KEYS", default=[]) if key.strip()]
if not FERNET_KEYS:
    if not DEBUG:
        raise ImproperlyConfigured(
            "FERNET_KEYS is not set: Connect will not start without a key to encrypt secrets. "
            "Generate one with `python -c 'from cryptography.fernet import Fernet; print(Fernet.generate_key().decode())'` "
            "and set FERNET_KEYS (comma-separated, newest first)."
        )
    FERNET_KEYS = [SECRET_KEY]

# requests-oauthlib refuses http:// token URLs unless this is set; only tests may set it.
if os.environ.get("OAUTHLIB_INSECURE_TRANSPORT") and not DEBUG:
    raise ImproperlyConfigured("OAUTHLIB_INSECURE_TRANSPORT must not be set in production: token URLs are https only.")

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "datasources",
    "items",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

# ModelBackend with the per-request user query compiled once (datasources/access.py).
AUTHENTICATION_BACKENDS = ["datasources.access.UserBackend"]

ROOT_URLCONF = "connect_project.urls"
WSGI_APPLICATION = "connect_project.wsgi.application"

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

DATABASES = {"default": env.db("DATABASE_URL", default=f"sqlite:///{BASE_DIR / 'db.sqlite3'}")}
# Persistent connections: opening one per request cost more than the whole options endpoint on a cache hit.
# A connection that broke while idle is noticed (health check) and replaced before it is used.
DATABASES["default"]["CONN_MAX_AGE"] = env.int("DATABASE_CONN_MAX_AGE", default=60)
DATABASES["default"]["CONN_HEALTH_CHECKS"] = True

REDIS_URL = env.str("REDIS_URL", default="")
if REDIS_URL:
    CACHES = {
        "default": {
            "BACKEND": "django_redis.cache.RedisCache",
            "LOCATION": REDIS_URL,
            "OPTIONS": {
                "CLIENT_CLASS": "django_redis.client.DefaultClient",
                # A Redis outage degrades to cache misses instead of errors (logged below).
                "IGNORE_EXCEPTIONS": True,
                "SOCKET_CONNECT_TIMEOUT": 1,
                "SOCKET_TIMEOUT": 2,
            },
            "KEY_PREFIX": "connect",
        }
    }
    # Sessions are read from Redis (written through to the database): the options endpoint is hot.
    SESSION_ENGINE = "django.contrib.sessions.backends.cached_db"
    DJANGO_REDIS_IGNORE_EXCEPTIONS = True
    DJANGO_REDIS_LOG_IGNORED_EXCEPTIONS = True
    DJANGO_REDIS_LOGGER = "connect.cache"
else:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache", "LOCATION": "connect"}}

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "datasources:list"
LOGOUT_REDIRECT_URL = "login"

LANGUAGE_CODE = "en-us"
TIME_ZONE = env.str("TIME_ZONE", default="UTC")
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATICFILES_DIRS = [BASE_DIR / "static"]
STATIC_ROOT = BASE_DIR / "staticfiles"
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SECURE = env.bool("SESSION_COOKIE_SECURE", default=not DEBUG)
CSRF_COOKIE_SECURE = env.bool("CSRF_COOKIE_SECURE", default=not DEBUG)
X_FRAME_OPTIONS = "DENY"

# --- Connect's own settings -------------------------------------------------
# Operator-wide CA bundle for outbound TLS (empty: the operating system's trust store).
CONNECT_CA_BUNDLE = env.str("CONNECT_CA_BUNDLE", default="")
# Hosts or networks (CIDR) that outbound calls may reach although they are not public.
CONNECT_ALLOWED_PRIVATE_NETWORKS = env.list("CONNECT_ALLOWED_PRIVATE_NETWORKS", default=[])
# Limit for one outbound call, from connect to the last byte.
CONNECT_CALL_DEADLINE_SECONDS = env.float("CONNECT_CALL_DEADLINE_SECONDS", default=60.0)
# Largest response body accepted from a datasource.
CONNECT_MAX_RESPONSE_BYTES = env.int("CONNECT_MAX_RESPONSE_BYTES", default=10 * 1024 * 1024)
# Lifetime of a cached item answer.
CONNECT_CACHE_TTL_SECONDS = env.int("CONNECT_CACHE_TTL_SECONDS", default=300)
# After a Redis error, item resolution skips the cache this long, and warns at most once per interval.
CONNECT_CACHE_RETRY_SECONDS = env.float("CONNECT_CACHE_RETRY_SECONDS", default=5.0)
CONNECT_CACHE_WARNING_INTERVAL_SECONDS = env.float("CONNECT_CACHE_WARNING_INTERVAL_SECONDS", default=60.0)
# How long concurrent misses wait for the first caller's answer before calling the API themselves
# (unset: the call deadline plus 5 seconds).
CONNECT_CACHE_LOCK_WAIT_SECONDS = env.float("CONNECT_CACHE_LOCK_WAIT_SECONDS", default=None)
# Protecting the APIs Connect calls (datasources/services/protection/). The calls per second and concurrent calls
# are set per datasource; these are the operator-wide rules around them.
# How long a caller over a datasource's limits waits for its turn before it gets rate_limited (inside the deadline).
CONNECT_RATE_LIMIT_WAIT_SECONDS = env.float("CONNECT_RATE_LIMIT_WAIT_SECONDS", default=2.0)
# An API's Retry-After (on 429 or 503) pauses calls to it for at most this long.
CONNECT_RETRY_AFTER_MAX_SECONDS = env.float("CONNECT_RETRY_AFTER_MAX_SECONDS", default=300.0)
# Circuit breaker: after this many consecutive failures (0: never opens), calls fail fast for OPEN_SECONDS, then one
# probe call decides.
CONNECT_BREAKER_FAILURES = env.int("CONNECT_BREAKER_FAILURES", default=5)
CONNECT_BREAKER_OPEN_SECONDS = env.float("CONNECT_BREAKER_OPEN_SECONDS", default=30.0)
# Public base URL of this Connect (for the OAuth callback URI); empty: taken from the request.
CONNECT_PUBLIC_URL = env.str("CONNECT_PUBLIC_URL", default="")

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s: %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": "WARNING"},
    "loggers": {
        "connect": {"level": env.str("CONNECT_LOG_LEVEL", default="INFO"), "propagate": True},
        # These libraries log request URLs, headers and tokens at DEBUG: never let that out.
        "oauthlib": {"level": "WARNING", "propagate": True},
        "requests_oauthlib": {"level": "WARNING", "propagate": True},
        "urllib3": {"level": "WARNING", "propagate": True},
    },
}
