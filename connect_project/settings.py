"""Connect's settings: the environment (environment.py: variables, then .env) is parsed once here; code reads
settings.CONNECT_*."""

import datetime
import os

from django.core.exceptions import ImproperlyConfigured

from .caches import redis_caches
from .environment import BASE_DIR, call_deadline_seconds, env

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
            "Generate one with "
            "`python -c 'from cryptography.fernet import Fernet; print(Fernet.generate_key().decode())'` "
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
    "corsheaders",
    # Before core: its sign-in pause (core/sign_in.py) runs after axes has counted the failure.
    "axes",
    "core",
    "datasources",
    "items",
    "applications",
    "operations",
    "audit",
    "configuration",
]

MIDDLEWARE = [
    # Behind the trusted proxy (CONNECT_BEHIND_TLS_PROXY): REMOTE_ADDR is the client it forwarded, for everything after.
    "operations.forwarded.ForwardedClientMiddleware",
    # It answers CORS preflights itself (only on the item API, see CORS_URLS_REGEX).
    "corsheaders.middleware.CorsMiddleware",
    "django.middleware.security.SecurityMiddleware",
    # Static files (hashed, compressed, long-cached) straight from STATIC_ROOT, before sessions and the rest.
    "whitenoise.middleware.WhiteNoiseMiddleware",
    # The Content-Security-Policy header on pages (CONTENT_SECURITY_POLICY below; core/csp.py).
    "core.csp.PageCSPMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    # request.caller for the item API: an embedding token's user or the signed-in user (applications/middleware.py).
    "applications.middleware.CallerMiddleware",
    # Who changes the configuration, from where: every change is recorded in the audit log (audit/recorder.py).
    "audit.recorder.AuditMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    # Last: turns a locked-out sign-in into the lockout page (core/sign_in.py).
    "axes.middleware.AxesMiddleware",
]

# First django-axes' check (a locked account and address is refused before its password is checked), then ModelBackend
# with the per-request user query compiled once (connect_project/auth.py).
AUTHENTICATION_BACKENDS = ["axes.backends.AxesStandaloneBackend", "connect_project.auth.UserBackend"]

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
if "postgresql" in DATABASES["default"]["ENGINE"]:
    # An unreachable database must fail a request (and /readyz) within seconds, not hang it.
    DATABASES["default"].setdefault("OPTIONS", {}).setdefault("connect_timeout", 5)

# Redis: one server (REDIS_URL) or Redis Sentinel (REDIS_SENTINELS); unset: an in-process cache (one process only).
REDIS_URL = env.str("REDIS_URL", default="")
REDIS_SENTINELS = env.list("REDIS_SENTINELS", default=[])
if REDIS_URL or REDIS_SENTINELS:
    CACHES = redis_caches(
        url=REDIS_URL,
        sentinels=REDIS_SENTINELS,
        sentinel_master=env.str("REDIS_SENTINEL_MASTER", default="mymaster"),
        db=env.int("REDIS_SENTINEL_DB", default=0),
        password=env.str("REDIS_PASSWORD", default=""),
        sentinel_password=env.str("REDIS_SENTINEL_PASSWORD", default=""),
    )
    # Sessions are read from Redis (written through to the database): the options endpoint is hot.
    SESSION_ENGINE = "django.contrib.sessions.backends.cached_db"
    DJANGO_REDIS_IGNORE_EXCEPTIONS = True
    # django-redis reports each error it ignores (a session read while Redis is down) on this logger; LOGGING turns
    # those records into Connect's one warning per interval (operations/redis_outage.py) and drops them.
    DJANGO_REDIS_LOG_IGNORED_EXCEPTIONS = True
    DJANGO_REDIS_LOGGER = "connect.cache.ignored"
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
# Where `collectstatic` (make serve) puts the files WhiteNoise serves.
STATIC_ROOT = env.path("STATIC_ROOT", default=BASE_DIR / "staticfiles")
# Hashed names and compressed copies (collectstatic writes a manifest; WhiteNoise caches hashed files for a year)
# in production. Plain names under DEBUG, where the development server serves static/ as it is.
CONNECT_STATIC_MANIFEST = env.bool("CONNECT_STATIC_MANIFEST", default=not DEBUG)
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"
        if CONNECT_STATIC_MANIFEST
        else "django.contrib.staticfiles.storage.StaticFilesStorage"
    },
}
# Decided from the environment's DEBUG, not from settings.DEBUG at the first request (test runners turn it off).
WHITENOISE_AUTOREFRESH = DEBUG
WHITENOISE_USE_FINDERS = DEBUG
# No CORS header on static files: CORS is answered only on the item API, for each application's origins (SPEC 6);
# a page embeds the widget's script with a plain <script> tag, which needs none.
WHITENOISE_ALLOW_ALL_ORIGINS = False
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
# `dumpdata` (and any serialization) leaves secrets out: encrypted fields are not written (core/dumps/).
SERIALIZATION_MODULES = {name: f"core.dumps.{name}" for name in ("json", "jsonl", "xml", "yaml")}

SESSION_COOKIE_HTTPONLY = True
# Cookies only over HTTPS in production (a local try of `make serve` over http:// sets both to false).
SESSION_COOKIE_SECURE = env.bool("SESSION_COOKIE_SECURE", default=not DEBUG)
CSRF_COOKIE_SECURE = env.bool("CSRF_COOKIE_SECURE", default=not DEBUG)
X_FRAME_OPTIONS = "DENY"
# Content-Security-Policy (django-csp; core/csp.py) on every page, not on the JSON API: pages load scripts, styles,
# images and fonts from Connect only, with no inline script or style (templates keep both in static/), and are never
# framed. No form-action: "Connect" (OAuth) posts a form that redirects to the provider, which form-action would stop.
# The field widget on other sites is under those sites' own policies (it adds its style as a constructed stylesheet,
# which a policy without 'unsafe-inline' allows).
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": ["'self'"],
        "script-src": ["'self'"],
        "style-src": ["'self'"],
        "img-src": ["'self'", "data:"],
        "connect-src": ["'self'"],
        "font-src": ["'self'"],
        "object-src": ["'none'"],
        "base-uri": ["'none'"],
        "frame-ancestors": ["'none'"],
    },
}

# Behind a TLS-terminating reverse proxy (opt-in: only when nothing else can reach the app server, since these
# headers are then believed): X-Forwarded-Proto says the request was https, X-Forwarded-Host which host was asked.
CONNECT_BEHIND_TLS_PROXY = env.bool("CONNECT_BEHIND_TLS_PROXY", default=False)
# The proxies whose X-Forwarded-For names the client (operations/forwarded.py): gunicorn's own variable and default.
CONNECT_FORWARDED_ALLOW_IPS = env.list("FORWARDED_ALLOW_IPS", default=["127.0.0.1", "::1"])
if CONNECT_BEHIND_TLS_PROXY:
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    USE_X_FORWARDED_HOST = True
# HSTS is only ever sent on HTTPS requests; a year by default in production (SECURE_HSTS_SECONDS=0 turns it off).
SECURE_HSTS_SECONDS = env.int("SECURE_HSTS_SECONDS", default=0 if DEBUG else 31536000)
SECURE_HSTS_INCLUDE_SUBDOMAINS = env.bool("SECURE_HSTS_INCLUDE_SUBDOMAINS", default=False)
# HSTS preload commits every subdomain of the domain to HTTPS for good: a decision for the domain's owner, not for
# Connect, so `check --deploy` does not ask for it.
SILENCED_SYSTEM_CHECKS = ["security.W021"]
SECURE_SSL_REDIRECT = env.bool("SECURE_SSL_REDIRECT", default=False)
# Probes and scrapers often speak plain HTTP to the app server itself.
SECURE_REDIRECT_EXEMPT = [r"^healthz$", r"^readyz$", r"^metrics$"]

# --- Connect's own settings -------------------------------------------------
# Operator-wide CA bundle for outbound TLS (empty: the operating system's trust store).
CONNECT_CA_BUNDLE = env.str("CONNECT_CA_BUNDLE", default="")
# Hosts or networks (CIDR) that outbound calls may reach although they are not public.
CONNECT_ALLOWED_PRIVATE_NETWORKS = env.list("CONNECT_ALLOWED_PRIVATE_NETWORKS", default=[])
# Limit for one outbound call, from connect to the last byte.
# (gunicorn.conf.py reads the same value: its worker timeout is this plus a margin.)
CONNECT_CALL_DEADLINE_SECONDS = call_deadline_seconds()
# Largest response body accepted from a datasource.
CONNECT_MAX_RESPONSE_BYTES = env.int("CONNECT_MAX_RESPONSE_BYTES", default=10 * 1024 * 1024)
# Lifetime of a cached item answer.
CONNECT_CACHE_TTL_SECONDS = env.int("CONNECT_CACHE_TTL_SECONDS", default=300)
# After a Redis error, item resolution skips the cache this long (the APIs' protection at most 1 s), and warns at
# most once per interval.
CONNECT_CACHE_RETRY_SECONDS = env.float("CONNECT_CACHE_RETRY_SECONDS", default=5.0)
CONNECT_CACHE_WARNING_INTERVAL_SECONDS = env.float("CONNECT_CACHE_WARNING_INTERVAL_SECONDS", default=60.0)
# Calls to an API refused or failed are summarised at most once per interval per datasource and process (one line each
# would flood the log under load); each is counted in /metrics.
CONNECT_CALL_REPORT_INTERVAL_SECONDS = env.float("CONNECT_CALL_REPORT_INTERVAL_SECONDS", default=60.0)
# How long concurrent misses wait for the first caller's answer before calling the API themselves
# (unset: the call deadline plus 5 seconds).
CONNECT_CACHE_LOCK_WAIT_SECONDS = env.float("CONNECT_CACHE_LOCK_WAIT_SECONDS", default=None)
# Protecting the APIs Connect calls (datasources/protection/). The calls per second and concurrent calls
# are set per datasource; these are the operator-wide rules around them.
# How long a caller over a datasource's limits waits for its turn before it gets rate_limited (inside the deadline).
CONNECT_RATE_LIMIT_WAIT_SECONDS = env.float("CONNECT_RATE_LIMIT_WAIT_SECONDS", default=2.0)
# An API's Retry-After (on 429 or 503) pauses calls to it for at most this long.
CONNECT_RETRY_AFTER_MAX_SECONDS = env.float("CONNECT_RETRY_AFTER_MAX_SECONDS", default=300.0)
# Circuit breaker: after this many consecutive failures (0: never opens), calls fail fast for OPEN_SECONDS, then one
# probe call decides.
CONNECT_BREAKER_FAILURES = env.int("CONNECT_BREAKER_FAILURES", default=5)
CONNECT_BREAKER_OPEN_SECONDS = env.float("CONNECT_BREAKER_OPEN_SECONDS", default=30.0)
# Outbound proxy for every datasource without a proxy of its own: http://[user:password@]host:port (HTTPS to the API
# is tunnelled with CONNECT to an address Connect checked itself). Hosts reached directly: names, .domain suffixes,
# IP addresses or networks (comma-separated).
CONNECT_OUTBOUND_PROXY = env.str("CONNECT_OUTBOUND_PROXY", default="").strip()
CONNECT_OUTBOUND_PROXY_EXCEPTIONS = env.list("CONNECT_OUTBOUND_PROXY_EXCEPTIONS", default=[])
if CONNECT_OUTBOUND_PROXY:
    from datasources.url_rules import URLRuleError, check_proxy_url

    try:
        check_proxy_url(CONNECT_OUTBOUND_PROXY, password_allowed=True)
    except URLRuleError as exc:  # the message never quotes the URL (it may hold the proxy's password)
        raise ImproperlyConfigured(f"CONNECT_OUTBOUND_PROXY is not valid: {exc.message}") from None
# Sign-in protection (django-axes; core/sign_in.py), on /login/ and /admin/login/ alike: wrong passwords are counted
# per account and address; from the fourth one each is answered after a pause (PAUSE_SECONDS, doubling, at most four
# times as long; 0: no pause); after FAILURES of them that account and address are locked for LOCKOUT_MINUTES (each
# new try starts the wait again). Failures are kept in the database, so every process and host shares them.
CONNECT_SIGN_IN_FAILURES = env.int("CONNECT_SIGN_IN_FAILURES", default=10)
CONNECT_SIGN_IN_LOCKOUT_MINUTES = env.int("CONNECT_SIGN_IN_LOCKOUT_MINUTES", default=15)
CONNECT_SIGN_IN_PAUSE_SECONDS = env.float("CONNECT_SIGN_IN_PAUSE_SECONDS", default=1.0)
AXES_FAILURE_LIMIT = CONNECT_SIGN_IN_FAILURES
AXES_COOLOFF_TIME = datetime.timedelta(minutes=CONNECT_SIGN_IN_LOCKOUT_MINUTES)
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_LOCKOUT_CALLABLE = "core.sign_in.locked_out"
# Successful sign-ins are not recorded by axes (a table that only grows); failures are, without the password.
AXES_DISABLE_ACCESS_LOG = True
# Public base URL of this Connect (for the OAuth callback URI); empty: taken from the request.
CONNECT_PUBLIC_URL = env.str("CONNECT_PUBLIC_URL", default="")

# Lifetime of a selection proof (SPEC 9): how long the system receiving a form may take to verify a choice.
CONNECT_PROOF_LIFETIME_SECONDS = env.int("CONNECT_PROOF_LIFETIME_SECONDS", default=86400)
if CONNECT_PROOF_LIFETIME_SECONDS < 1:
    raise ImproperlyConfigured("CONNECT_PROOF_LIFETIME_SECONDS must be a positive number of seconds.")

# CORS (django-cors-headers) only on the item API the widget calls; no origin is listed here: each application's
# own origins are checked per request (applications/cors.py). Cookies are never allowed cross-origin. POST (JSON) is
# for selections and verification.
CORS_URLS_REGEX = r"^/api/items/(?P<pk>[0-9]+)/(?:options|field|selections|verify|labels)/?$"
CORS_ALLOWED_ORIGINS: list[str] = []
CORS_ALLOW_CREDENTIALS = False
CORS_ALLOW_METHODS = ["GET", "POST", "OPTIONS"]
CORS_ALLOW_HEADERS = ["accept", "authorization", "content-type"]
CORS_PREFLIGHT_MAX_AGE = 600

# Audit entries older than this many days are deleted by `manage.py prune_audit` (schedule it daily).
CONNECT_AUDIT_RETENTION_DAYS = env.int("CONNECT_AUDIT_RETENTION_DAYS", default=365)
if CONNECT_AUDIT_RETENTION_DAYS < 1:
    raise ImproperlyConfigured("CONNECT_AUDIT_RETENTION_DAYS must be a whole number of days, at least 1.")

# The bearer token that /metrics asks for (Authorization: Bearer ...); unset: /metrics answers 404.
CONNECT_METRICS_TOKEN = env.str("CONNECT_METRICS_TOKEN", default="")

# Log lines: "plain" text, or "json" (one JSON object per line: time, level, logger, message).
CONNECT_LOG_FORMAT = env.str("CONNECT_LOG_FORMAT", default="plain").strip().lower()
if CONNECT_LOG_FORMAT not in ("plain", "json"):
    raise ImproperlyConfigured(f"CONNECT_LOG_FORMAT must be plain or json, not {CONNECT_LOG_FORMAT!r}.")

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {
        "plain": {"()": "operations.log_format.PlainFormatter"},
        "json": {"()": "operations.log_format.JSONFormatter"},
    },
    "filters": {
        "redis_outage": {"()": "operations.redis_outage.ReportIgnoredRedisErrors"},
        "expected_answers": {"()": "operations.request_log.QuietExpectedAnswers"},
        "one_line_warning": {"()": "operations.request_log.OneLineWarning"},
        "request_client": {"()": "operations.request_log.RequestClient"},
    },
    "handlers": {
        "console": {"class": "logging.StreamHandler", "formatter": CONNECT_LOG_FORMAT, "filters": ["request_client"]}
    },
    "root": {"handlers": ["console"], "level": "WARNING"},
    "loggers": {
        # Django's default "django" handler prints under DEBUG what the root handler prints too: each django.request
        # line appeared twice. The root handler alone prints them.
        "django": {"handlers": [], "level": "INFO", "propagate": True},
        # Answers Connect gives on purpose (refused or failed API calls, an unready /readyz) are counted in /metrics
        # and summarised once per interval, not logged per request; another host name is one warning line.
        "django.request": {"filters": ["expected_answers"]},
        "django.security.DisallowedHost": {"filters": ["one_line_warning"]},
        "connect": {"level": env.str("CONNECT_LOG_LEVEL", default="INFO"), "propagate": True},
        # django-redis' ignored errors (DJANGO_REDIS_LOGGER): reported by the filter, never printed themselves.
        "connect.cache.ignored": {"level": "DEBUG", "filters": ["redis_outage"], "handlers": [], "propagate": False},
        # These libraries log request URLs, headers and tokens at DEBUG: never let that out.
        "oauthlib": {"level": "WARNING", "propagate": True},
        "requests_oauthlib": {"level": "WARNING", "propagate": True},
        "urllib3": {"level": "WARNING", "propagate": True},
    },
}
