"""Callboard settings: every value comes from the environment (README has the table)."""

from datetime import timedelta
from pathlib import Path

import environ
from django.core.exceptions import ImproperlyConfigured
from kombu import Queue

BASE_DIR = Path(__file__).resolve().parent.parent

env = environ.Env()

DEBUG = env.bool("DEBUG", default=False)

# The development key is public; a deployment that forgets SECRET_KEY must not start.
DEVELOPMENT_SECRET_KEY = "insecure-development-key-never-use-in-production"  # noqa: S105
SECRET_KEY = env.str("SECRET_KEY", default=DEVELOPMENT_SECRET_KEY)
if not DEBUG and SECRET_KEY == DEVELOPMENT_SECRET_KEY:
    raise ImproperlyConfigured(
        "SECRET_KEY is not set. Set SECRET_KEY to a long random value, "
        "or DEBUG=true for local development."
    )

ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=["localhost", "127.0.0.1", "[::1]"])
CSRF_TRUSTED_ORIGINS = env.list("CSRF_TRUSTED_ORIGINS", default=[])
SECURE_COOKIES = env.bool("SECURE_COOKIES", default=not DEBUG)
SESSION_COOKIE_SECURE = SECURE_COOKIES
CSRF_COOKIE_SECURE = SECURE_COOKIES
# A proxy of ours stands in front: its X-Forwarded-* headers are believed (the
# client address the rate limits count is then X-Forwarded-For's last entry).
TRUST_PROXY_HEADERS = env.bool("TRUST_PROXY_HEADERS", default=False)
if TRUST_PROXY_HEADERS:
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    USE_X_FORWARDED_HOST = True
# HTTPS only, unless DEBUG (docs/operations.md "Security"). Behind a proxy that ends
# TLS the redirect needs TRUST_PROXY_HEADERS, or it would loop. The probes speak
# plain HTTP to the process, and so may a Prometheus scraper (METRICS_TOKEN).
SECURE_SSL_REDIRECT = env.bool("SECURE_SSL_REDIRECT", default=not DEBUG)
SECURE_REDIRECT_EXEMPT = [r"^healthz$", r"^readyz$", r"^metrics$"]
# Sent on HTTPS responses only; browsers then refuse plain HTTP to this host.
SECURE_HSTS_SECONDS = env.int("SECURE_HSTS_SECONDS", default=0 if DEBUG else 31_536_000)
SECURE_HSTS_INCLUDE_SUBDOMAINS = env.bool("SECURE_HSTS_INCLUDE_SUBDOMAINS", default=False)
# Every HTML page's Content-Security-Policy (project.middleware): scripts, styles,
# fonts and connections (the dashboard's fetch and EventSource) from this origin
# only, no inline script, no plugin, no framing. Empty turns it off.
CONTENT_SECURITY_POLICY = env.str(
    "CONTENT_SECURITY_POLICY",
    default="default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "font-src 'self'; connect-src 'self'; object-src 'none'; base-uri 'self'; "
    "form-action 'self'; frame-ancestors 'none'",
)

INSTALLED_APPS = [
    "daphne",
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "channels",
    "ninja",
    "workspaces",
    "realtime",
    "calls",
    "billing",
    "campaigns",
    "schedules",
    "exports",
    "notifications",
    # After every app that registers event types: its reaction wants them all.
    "webhooks",
    "dashboard",
    # Sign-in lockout (dashboard and admin), counted in Redis: see "Rate limits" below.
    "axes",
]

MIDDLEWARE = [
    "project.middleware.RequestContextMiddleware",
    "project.middleware.ApiErrorShapeMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "project.middleware.ContentSecurityPolicyMiddleware",
    # Before sessions and auth: a static file needs neither. It is sync-only; under
    # ASGI the whole chain runs in sync mode in one call (project/django_asgi.py).
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    # Last, as django-axes asks: turns a locked-out sign-in into the 429 page.
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "project.urls"
ASGI_APPLICATION = "project.asgi.application"

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

# An empty DATABASE_URL counts as unset.
DATABASE_URL = env.str("DATABASE_URL", default="") or f"sqlite:///{BASE_DIR / 'db.sqlite3'}"
DATABASES = {"default": env.db_url_config(DATABASE_URL)}
DATABASES["default"]["CONN_MAX_AGE"] = env.int("DATABASE_CONN_MAX_AGE", default=60)
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # A file, not memory, so the servers and workers that tests start share it.
    RUN_DIR = BASE_DIR / ".run"
    RUN_DIR.mkdir(exist_ok=True)
    DATABASES["default"]["TEST"] = {"NAME": str(RUN_DIR / "test-db.sqlite3")}
    # IMMEDIATE: a transaction takes the write lock when it begins and concurrent
    # writers wait for it (up to the timeout), instead of failing with "database is
    # locked" when a reading transaction tries to write.
    DATABASES["default"]["OPTIONS"] = {"timeout": 20, "transaction_mode": "IMMEDIATE"}
elif DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql" and env.bool("DATABASE_POOL", True):
    # Under ASGI every request runs its sync code in a thread of its own, so a
    # persistent connection (CONN_MAX_AGE) lives and dies with that thread: each
    # request paid a new connection and the dead threads' ones piled up (79 open
    # in the ingest benchmark). A pool per process hands connections out per
    # request and takes them back when Django closes them.
    DATABASES["default"]["CONN_MAX_AGE"] = 0
    DATABASES["default"].setdefault("OPTIONS", {})["pool"] = {
        "min_size": env.int("DATABASE_POOL_MIN_SIZE", default=2),
        "max_size": env.int("DATABASE_POOL_MAX_SIZE", default=10),
        "timeout": env.float("DATABASE_POOL_TIMEOUT_SECONDS", default=10.0),
    }
DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# The runners (make run, make test) start a private Redis and set REDIS_URL when
# none is configured; this default only serves a bare `manage.py` call.
REDIS_URL = env.str("REDIS_URL", default="redis://127.0.0.1:6379/0")
REDIS_SOCKET_TIMEOUT_SECONDS = env.float("REDIS_SOCKET_TIMEOUT_SECONDS", default=2.0)

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
LOGIN_URL = "/accounts/login/"
LOGIN_REDIRECT_URL = "/dashboard/"
LOGOUT_REDIRECT_URL = "/accounts/login/"

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATICFILES_DIRS = [BASE_DIR / "static"]
# WhiteNoise serves static files from the app. With STATIC_MANIFEST (a release
# that ran `collectstatic`) names carry a content hash, files are pre-compressed
# and cached for a year; without it (a fresh clone, tests) files come straight
# from the app directories with a short cache and ETags.
STATIC_MANIFEST = env.bool("STATIC_MANIFEST", default=False)
# Only a release collects; WhiteNoise would warn about a STATIC_ROOT nobody filled.
STATIC_ROOT = env.path("STATIC_ROOT", default=BASE_DIR / "staticfiles") if STATIC_MANIFEST else None
WHITENOISE_USE_FINDERS = not STATIC_MANIFEST
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"
        if STATIC_MANIFEST
        else "django.contrib.staticfiles.storage.StaticFilesStorage"
    },
}

# Requests larger than this are refused with 413 before the body is read, in the
# ASGI layer (project/body_limit.py); the upload routes declared there take up
# to API_MAX_UPLOAD_BYTES instead.
API_MAX_BODY_BYTES = env.int("API_MAX_BODY_BYTES", default=1024 * 1024)
API_MAX_UPLOAD_BYTES = env.int("API_MAX_UPLOAD_BYTES", default=50 * 1024 * 1024)
DATA_UPLOAD_MAX_MEMORY_SIZE = API_MAX_BODY_BYTES

API_PAGE_SIZE_DEFAULT = 50
API_PAGE_SIZE_MAX = 200
# last_used_at is written at most this often per key, so reads never cost a write.
API_KEY_LAST_USED_RESOLUTION_SECONDS = env.int(
    "API_KEY_LAST_USED_RESOLUTION_SECONDS", default=60
)
# Requests reuse a key verified this recently (workspaces/key_cache.py); a
# revocation is broadcast at once, and this bounds it when the message is lost.
# 0 turns it off.
API_KEY_CACHE_SECONDS = env.float("API_KEY_CACHE_SECONDS", default=5)
SSE_TICKET_TTL_SECONDS = env.int("SSE_TICKET_TTL_SECONDS", default=30)

# Rate limits (docs/operations.md "Limits"), counted in Redis so they hold across
# processes. Failed bearer keys per client address: at the limit, every bearer
# attempt from that address is 429 until the window (from the first failure) ends.
API_KEY_FAILURE_LIMIT = env.int("API_KEY_FAILURE_LIMIT", default=20)
API_KEY_FAILURE_WINDOW_SECONDS = env.int("API_KEY_FAILURE_WINDOW_SECONDS", default=60)
# Writes (unsafe methods under /api/v1/) per principal: a token bucket. 0 turns it off.
API_WRITE_RATE_PER_SECOND = env.float("API_WRITE_RATE_PER_SECOND", default=10)
API_WRITE_BURST = env.int("API_WRITE_BURST", default=100)
# The runtime ingest's own bucket per key: a runtime that meets a limit may lose
# what it reports, so this one only stops a runaway loop.
RUNTIME_INGEST_RATE_PER_SECOND = env.float("RUNTIME_INGEST_RATE_PER_SECOND", default=100)
RUNTIME_INGEST_BURST = env.int("RUNTIME_INGEST_BURST", default=1000)
# Sign-in (/accounts/login/ and /admin/login/) through django-axes: after
# SIGNIN_FAILURE_LIMIT failures for one username or from one address, sign-in is
# locked for them (a 429 page) until SIGNIN_COOLOFF_SECONDS pass without a
# counted failure; a success resets the count.
SIGNIN_FAILURE_LIMIT = env.int("SIGNIN_FAILURE_LIMIT", default=5)
SIGNIN_COOLOFF_SECONDS = env.int("SIGNIN_COOLOFF_SECONDS", default=900)
AUTHENTICATION_BACKENDS = [
    "workspaces.signin.SignInLockoutBackend",
    "django.contrib.auth.backends.ModelBackend",
]
AXES_HANDLER = "axes.handlers.cache.AxesCacheHandler"  # Redis, no tables
AXES_CACHE = "signin"
AXES_FAILURE_LIMIT = SIGNIN_FAILURE_LIMIT
AXES_COOLOFF_TIME = timedelta(seconds=SIGNIN_COOLOFF_SECONDS)
AXES_LOCKOUT_PARAMETERS = ["username", "ip_address"]  # either one locks
AXES_RESET_ON_SUCCESS = True
# Attempts during a lockout do not extend it: it ends by itself.
AXES_RESET_COOL_OFF_ON_FAILURE_DURING_LOCKOUT = False
AXES_CLIENT_IP_CALLABLE = "project.client_address.request_address"
AXES_LOCKOUT_CALLABLE = "workspaces.signin.lockout_response"
AXES_ENABLE_ADMIN = False  # the cache handler keeps no rows to show
AXES_VERBOSE = False
CACHES = {
    "default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"},
    "signin": {
        "BACKEND": "django.core.cache.backends.redis.RedisCache",
        "LOCATION": REDIS_URL,
        "KEY_PREFIX": "callboard:signin",
        "OPTIONS": {"socket_timeout": REDIS_SOCKET_TIMEOUT_SECONDS,
                    "socket_connect_timeout": REDIS_SOCKET_TIMEOUT_SECONDS},
    },
}

# Calls (docs/reference/rest.md#calls, docs/reference/domain.md#call-lifecycle). The voice runtime:
# "simulated" (Celery plays believable
# calls) or "ingest" (a runtime outside reports through POST /api/v1/runtime/events).
VOICE_RUNTIME = env.str("VOICE_RUNTIME", default="simulated")
if VOICE_RUNTIME not in ("simulated", "ingest"):
    raise ImproperlyConfigured("VOICE_RUNTIME must be 'simulated' or 'ingest'.")
# How much faster than real time the simulated runtime plays a call.
SIMULATOR_SPEED = env.float("SIMULATOR_SPEED", default=1.0)
if SIMULATOR_SPEED <= 0:
    raise ImproperlyConfigured("SIMULATOR_SPEED must be above 0.")
# Steps of a simulated call due within this many seconds (after SIMULATOR_SPEED) of the
# one being played go in its batch: one task and one transaction, as a real runtime
# batches what it hears at once (docs/runtime.md). 0 plays every step on its own.
SIMULATOR_BATCH_SECONDS = env.float("SIMULATOR_BATCH_SECONDS", default=0.05)
if not 0 <= SIMULATOR_BATCH_SECONDS <= 1:
    raise ImproperlyConfigured("SIMULATOR_BATCH_SECONDS must be 0 to 1.")
# The caller id of a call placed without `from_number`.
CALLS_DEFAULT_FROM_NUMBER = env.str("CALLS_DEFAULT_FROM_NUMBER", default="+14155550100")
# A call still queued or ringing after this long ends (failed / no-answer).
CALLS_STUCK_SECONDS = env.int("CALLS_STUCK_SECONDS", default=120)
# make run keeps this many simulated calls going in the demo workspace (0: none).
DEMO_CALL_TRICKLE = env.int("DEMO_CALL_TRICKLE", default=0)
RUNTIME_INGEST_MAX_ITEMS = 500
# A runtime's timestamp is taken within [the call's creation - this, now + this]
# (clocks drift a little); an item outside is refused (docs/runtime.md).
RUNTIME_TIMESTAMP_SKEW_SECONDS = env.int("RUNTIME_TIMESTAMP_SKEW_SECONDS", default=60)
if RUNTIME_TIMESTAMP_SKEW_SECONDS < 0:
    raise ImproperlyConfigured("RUNTIME_TIMESTAMP_SKEW_SECONDS must not be negative.")
# The largest `variables` a call takes, as compact UTF-8 JSON, and how deeply they nest.
CALLS_MAX_VARIABLES_BYTES = env.int("CALLS_MAX_VARIABLES_BYTES", default=16 * 1024)
CALLS_MAX_VARIABLES_DEPTH = env.int("CALLS_MAX_VARIABLES_DEPTH", default=8)
# A workspace places no call while this many of its calls are active (429 too_many_active_calls).
CALLS_MAX_ACTIVE_PER_WORKSPACE = env.int("CALLS_MAX_ACTIVE_PER_WORKSPACE", default=1000)

# Billing (docs/reference/domain.md#billing): prepaid USD credit. A new account's per-minute rate and the
# balance at or below which `payment-required` (low-balance) is raised; staff
# change both per workspace in the admin.
BILLING_DEFAULT_RATE_PER_MINUTE = env.str("BILLING_DEFAULT_RATE_PER_MINUTE", default="0.1000")
BILLING_LOW_BALANCE_THRESHOLD = env.str("BILLING_LOW_BALANCE_THRESHOLD", default="5.0000")
# How often the beat charges the elapsed minutes of calls in progress.
BILLING_CHARGE_INTERVAL_SECONDS = env.float("BILLING_CHARGE_INTERVAL_SECONDS", default=10.0)
# The talk time each live charge pays for: a minute (docs/reference/domain.md#billing). Only the end-to-end
# test shortens it, so that a fast-played simulated call spans several periods.
BILLING_CHARGE_PERIOD_SECONDS = env.int("BILLING_CHARGE_PERIOD_SECONDS", default=60)
if BILLING_CHARGE_PERIOD_SECONDS < 1:
    raise ImproperlyConfigured("BILLING_CHARGE_PERIOD_SECONDS must be at least 1.")
# The most minutes one charge run charges for one call: a call whose answer time is
# far in the past (data from before the ingest bounded timestamps) catches up over
# several runs instead of one run building millions of entries.
BILLING_MAX_MINUTES_PER_RUN = env.int("BILLING_MAX_MINUTES_PER_RUN", default=60)
if BILLING_MAX_MINUTES_PER_RUN < 1:
    raise ImproperlyConfigured("BILLING_MAX_MINUTES_PER_RUN must be at least 1.")
# The largest single top-up the API takes.
BILLING_MAX_TOP_UP = env.str("BILLING_MAX_TOP_UP", default="100000")

# Celery: JSON only, a task is acknowledged after it ran and requeued if its
# worker dies, one message prefetched at a time, hard and soft time limits.
CELERY_BROKER_URL = env.str("CELERY_BROKER_URL", default=REDIS_URL)
CELERY_TASK_SERIALIZER = "json"
CELERY_RESULT_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_IGNORE_RESULT = True
CELERY_TASK_TIME_LIMIT = env.int("CELERY_TASK_TIME_LIMIT", default=300)
CELERY_TASK_SOFT_TIME_LIMIT = env.int("CELERY_TASK_SOFT_TIME_LIMIT", default=240)
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
# A task whose worker died (acks_late: not acknowledged) goes back to the queue
# once it has been out this long; it must exceed the longest a task may run, or a
# slow task would be handed to a second worker while the first still runs it.
# Redis's transport looks for such tasks every CELERY_UNACKED_RESTORE_INTERVAL_SECONDS
# (kombu scans only every tenth look by default: 100 s; here every look).
CELERY_BROKER_TRANSPORT_OPTIONS = {
    "visibility_timeout": env.int("CELERY_VISIBILITY_TIMEOUT_SECONDS", default=CELERY_TASK_TIME_LIMIT + 60),
    "unacked_restore_interval": env.int("CELERY_UNACKED_RESTORE_INTERVAL_SECONDS", default=10),
    "unacked_restore_throttle": 1,
}
CELERY_WORKER_HIJACK_ROOT_LOGGER = False
# The schedules' tick has a queue of its own: behind a backlog in the default
# queue (a thousand simulated calls' steps) every tick expired before a worker
# took it, and due runs waited until they were recorded missed
# (docs/PERFORMANCE.md "Schedules"). A worker started without -Q consumes every
# queue named here, taking from each in turn, so a tick waits for at most one
# task of the backlog per pool child.
CELERY_TASK_DEFAULT_QUEUE = "celery"
CELERY_TASK_QUEUES = [Queue("celery"), Queue("ticks"), Queue("exports")]
# Exports have a queue of their own, and the Procfile a worker of its own for it
# (`-Q exports`): a million-row export holds its worker for a while, and must
# delay neither calls nor the tick (docs/exports.md "How exports run").
CELERY_TASK_ROUTES = {"schedules.tasks.run_due_schedules": {"queue": "ticks"},
                      "exports.tasks.run_export": {"queue": "exports"}}
# Schedules (docs/schedules.md; docs/operations.md "Settings").
SCHEDULES_TICK_SECONDS = env.float("SCHEDULES_TICK_SECONDS", default=1.0)
# One tick's bounds: runs recorded, and seconds spent (below the task time limits).
SCHEDULES_RUNS_PER_TICK = env.int("SCHEDULES_RUNS_PER_TICK", default=2000)
SCHEDULES_TICK_BUDGET_SECONDS = env.float("SCHEDULES_TICK_BUDGET_SECONDS", default=30.0)
# A tick's pass takes this many due schedules of each of at most this many workspaces.
SCHEDULES_DUE_PER_WORKSPACE = env.int("SCHEDULES_DUE_PER_WORKSPACE", default=20)
SCHEDULES_DUE_WORKSPACES = env.int("SCHEDULES_DUE_WORKSPACES", default=200)
# Missed runs recorded one by one after an outage; past this, the rest are skipped unrecorded.
SCHEDULES_MISSED_RECORDED = env.int("SCHEDULES_MISSED_RECORDED", default=100)
SCHEDULES_MAX_PER_WORKSPACE = env.int("SCHEDULES_MAX_PER_WORKSPACE", default=2000)
SCHEDULE_RUN_RETENTION_DAYS = env.int("SCHEDULE_RUN_RETENTION_DAYS", default=90)
# Notifications (docs/notifications.md). Each workspace keeps its newest
# NOTIFICATIONS_MAX_PER_WORKSPACE (trimmed as new ones are written) and none older
# than NOTIFICATIONS_RETENTION_DAYS (trimmed by the beat). Email goes to the
# workspace's owners and admins for the kinds listed, through Django's email backend
# (EMAIL_BACKEND: the console by default, smtp with EMAIL_HOST and friends).
NOTIFICATIONS_MAX_PER_WORKSPACE = env.int("NOTIFICATIONS_MAX_PER_WORKSPACE", default=500)
if NOTIFICATIONS_MAX_PER_WORKSPACE < 1:
    raise ImproperlyConfigured("NOTIFICATIONS_MAX_PER_WORKSPACE must be at least 1.")
NOTIFICATIONS_RETENTION_DAYS = env.int("NOTIFICATIONS_RETENTION_DAYS", default=90)
NOTIFICATIONS_EMAIL_ENABLED = env.bool("NOTIFICATIONS_EMAIL_ENABLED", default=True)
NOTIFICATIONS_EMAIL_KINDS = env.list(
    "NOTIFICATIONS_EMAIL_KINDS",
    default=["low-balance", "payment-required", "export-failed", "schedule-failed", "webhook-disabled"],
)
EMAIL_BACKEND = env.str("EMAIL_BACKEND", default="django.core.mail.backends.console.EmailBackend")
EMAIL_HOST = env.str("EMAIL_HOST", default="localhost")
EMAIL_PORT = env.int("EMAIL_PORT", default=25)
EMAIL_HOST_USER = env.str("EMAIL_HOST_USER", default="")
EMAIL_HOST_PASSWORD = env.str("EMAIL_HOST_PASSWORD", default="")
EMAIL_USE_TLS = env.bool("EMAIL_USE_TLS", default=False)
EMAIL_TIMEOUT = env.int("EMAIL_TIMEOUT", default=10)
DEFAULT_FROM_EMAIL = env.str("DEFAULT_FROM_EMAIL", default="Callboard <notifications@localhost>")
# Exports (docs/exports.md; docs/operations.md "Settings").
# Where files go: the local filesystem (EXPORTS_DIR) unless EXPORTS_STORAGE=s3, then an
# S3-compatible bucket through django-storages (credentials: AWS_ACCESS_KEY_ID and
# AWS_SECRET_ACCESS_KEY in the environment, as boto3 reads them).
EXPORTS_STORAGE = env.str("EXPORTS_STORAGE", default="filesystem")
if EXPORTS_STORAGE == "filesystem":
    STORAGES["exports"] = {
        "BACKEND": "django.core.files.storage.FileSystemStorage",
        "OPTIONS": {"location": env.path("EXPORTS_DIR", default=BASE_DIR / ".run" / "exports")},
    }
elif EXPORTS_STORAGE == "s3":
    STORAGES["exports"] = {
        "BACKEND": "storages.backends.s3.S3Storage",
        "OPTIONS": {
            "bucket_name": env.str("EXPORTS_S3_BUCKET"),
            "endpoint_url": env.str("EXPORTS_S3_ENDPOINT_URL", default="") or None,
            "region_name": env.str("EXPORTS_S3_REGION", default="") or None,
            "location": env.str("EXPORTS_S3_PREFIX", default="exports"),
            "default_acl": None,
            "file_overwrite": True,
            "querystring_auth": False,
        },
    }
else:
    raise ImproperlyConfigured("EXPORTS_STORAGE must be 'filesystem' or 's3'.")
# A signed download link works this long after it was handed out.
EXPORT_LINK_TTL_SECONDS = env.int("EXPORT_LINK_TTL_SECONDS", default=3600)
# A completed export's file is deleted this long after it completed (status `expired`).
EXPORTS_RETENTION_SECONDS = env.int("EXPORTS_RETENTION_SECONDS", default=7 * 24 * 3600)
# Exports a workspace may have queued or running at once (429 too_many_exports past it).
EXPORTS_MAX_ACTIVE_PER_WORKSPACE = env.int("EXPORTS_MAX_ACTIVE_PER_WORKSPACE", default=3)
# Exports of one workspace that run at once; its other queued ones wait, their task
# sent again after EXPORTS_WAIT_SECONDS, behind every other workspace's exports.
EXPORTS_MAX_RUNNING_PER_WORKSPACE = env.int("EXPORTS_MAX_RUNNING_PER_WORKSPACE", default=1)
EXPORTS_WAIT_SECONDS = env.float("EXPORTS_WAIT_SECONDS", default=5.0)
# Rows read, written and counted per batch; cancellation is seen between batches.
EXPORTS_BATCH_ROWS = env.int("EXPORTS_BATCH_ROWS", default=5000)
# `data-export-status` while running: at most one per this many seconds.
EXPORTS_PROGRESS_INTERVAL_SECONDS = env.float("EXPORTS_PROGRESS_INTERVAL_SECONDS", default=1.0)
# The longest an export may run (its task's hard limit; the soft one is a tenth less).
EXPORTS_TIME_LIMIT_SECONDS = env.int("EXPORTS_TIME_LIMIT_SECONDS", default=3600)
# A running export whose worker wrote nothing for this long is failed by the beat.
EXPORTS_STALE_SECONDS = env.int("EXPORTS_STALE_SECONDS", default=900)
if min(EXPORT_LINK_TTL_SECONDS, EXPORTS_RETENTION_SECONDS, EXPORTS_MAX_ACTIVE_PER_WORKSPACE,
       EXPORTS_MAX_RUNNING_PER_WORKSPACE,
       EXPORTS_BATCH_ROWS, EXPORTS_TIME_LIMIT_SECONDS, EXPORTS_STALE_SECONDS) < 1:
    raise ImproperlyConfigured("The EXPORT(S)_* counts and durations must be at least 1.")
if EXPORTS_WAIT_SECONDS <= 0:
    raise ImproperlyConfigured("EXPORTS_WAIT_SECONDS must be above 0.")
# Webhooks (docs/webhooks.md; docs/operations.md "Settings").
# Private, loopback, link-local and metadata addresses, and plain http, are refused
# unless this is on (development and tests only).
WEBHOOKS_ALLOW_PRIVATE_URLS = env.bool("WEBHOOKS_ALLOW_PRIVATE_URLS", default=False)
WEBHOOKS_MAX_ENDPOINTS_PER_WORKSPACE = env.int("WEBHOOKS_MAX_ENDPOINTS_PER_WORKSPACE", default=20)
# Random bytes of a new secret (24 to 64, as Standard Webhooks asks).
WEBHOOKS_SECRET_BYTES = env.int("WEBHOOKS_SECRET_BYTES", default=32)
if not 24 <= WEBHOOKS_SECRET_BYTES <= 64:
    raise ImproperlyConfigured("WEBHOOKS_SECRET_BYTES must be 24 to 64.")
# Webhook secrets are encrypted at rest under the first of these; every one listed
# decrypts (rotation: the new key first, the old after it, then reseal_webhook_secrets).
# Unset: SECRET_KEY, which then cannot change without them (docs/webhooks.md "Secrets at rest").
WEBHOOKS_SECRETS_KEYS = ([key for key in env.list("WEBHOOKS_SECRETS_KEYS", default=[]) if key.strip()]
                         or [SECRET_KEY])
# After a rotation the old secret still signs (beside the new one) this long.
WEBHOOKS_SECRET_GRACE_HOURS = env.float("WEBHOOKS_SECRET_GRACE_HOURS", default=24.0)
# Seconds between attempts after each failure (then the delivery fails), with jitter.
WEBHOOKS_RETRY_SCHEDULE = [int(value) for value in env.list(
    "WEBHOOKS_RETRY_SCHEDULE", default=["5", "300", "1800", "7200", "18000", "36000", "36000"])]
WEBHOOKS_RETRY_JITTER = env.float("WEBHOOKS_RETRY_JITTER", default=0.2)  # ± this fraction of each delay
# A 429 or 503 answer's Retry-After is honoured up to this many seconds.
WEBHOOKS_RETRY_AFTER_MAX_SECONDS = env.int("WEBHOOKS_RETRY_AFTER_MAX_SECONDS", default=3600)
# One attempt's whole time (connect, send, answer).
WEBHOOKS_TIMEOUT_SECONDS = env.float("WEBHOOKS_TIMEOUT_SECONDS", default=15.0)
# An endpoint whose every attempt failed for this long is disabled (and a notification raised).
WEBHOOKS_DISABLE_AFTER_DAYS = env.float("WEBHOOKS_DISABLE_AFTER_DAYS", default=5.0)
# The sender process (manage.py run_webhook_sender): requests in flight per process, and
# per endpoint across every sender; how long a claimed delivery is held before another sender may take it.
WEBHOOKS_SENDER_CONCURRENCY = env.int("WEBHOOKS_SENDER_CONCURRENCY", default=200)
WEBHOOKS_CONCURRENCY_PER_ENDPOINT = env.int("WEBHOOKS_CONCURRENCY_PER_ENDPOINT", default=20)
WEBHOOKS_LEASE_SECONDS = env.float("WEBHOOKS_LEASE_SECONDS", default=60.0)
WEBHOOKS_POLL_SECONDS = env.float("WEBHOOKS_POLL_SECONDS", default=0.25)
# Response bodies are kept up to this many bytes.
WEBHOOKS_RESPONSE_BODY_BYTES = env.int("WEBHOOKS_RESPONSE_BODY_BYTES", default=4096)
WEBHOOKS_DELIVERY_RETENTION_DAYS = env.float("WEBHOOKS_DELIVERY_RETENTION_DAYS", default=30.0)
if min(WEBHOOKS_MAX_ENDPOINTS_PER_WORKSPACE, WEBHOOKS_SENDER_CONCURRENCY, WEBHOOKS_CONCURRENCY_PER_ENDPOINT,
       WEBHOOKS_TIMEOUT_SECONDS, WEBHOOKS_POLL_SECONDS, WEBHOOKS_DELIVERY_RETENTION_DAYS,
       WEBHOOKS_DISABLE_AFTER_DAYS) <= 0 or not 0 < WEBHOOKS_RESPONSE_BODY_BYTES <= 4096:
    raise ImproperlyConfigured("The WEBHOOKS_* counts and durations must be above 0 "
                               "(WEBHOOKS_RESPONSE_BODY_BYTES at most 4096).")
if WEBHOOKS_LEASE_SECONDS < 2 * WEBHOOKS_TIMEOUT_SECONDS:
    raise ImproperlyConfigured("WEBHOOKS_LEASE_SECONDS must be at least twice WEBHOOKS_TIMEOUT_SECONDS.")
if not WEBHOOKS_RETRY_SCHEDULE or min(WEBHOOKS_RETRY_SCHEDULE) < 1 or not 0 <= WEBHOOKS_RETRY_JITTER < 1:
    raise ImproperlyConfigured("WEBHOOKS_RETRY_SCHEDULE needs delays of 1 s or more, "
                               "WEBHOOKS_RETRY_JITTER a fraction from 0 to 1.")
CELERY_BEAT_SCHEDULE = {
    "billing-charge-live-calls": {
        "task": "billing.tasks.charge_live_calls",
        "schedule": BILLING_CHARGE_INTERVAL_SECONDS,
        "options": {"expires": BILLING_CHARGE_INTERVAL_SECONDS * 2},
    },
    "realtime-sweep-unpublished": {
        "task": "realtime.tasks.sweep_unpublished_events",
        "schedule": 1.0,
        "options": {"expires": 5},
    },
    "calls-end-overdue": {
        "task": "calls.tasks.end_overdue_calls",
        "schedule": 10.0,
        "options": {"expires": 20},
    },
    "calls-demo-trickle": {
        "task": "calls.tasks.keep_demo_calls_going",
        "schedule": 5.0,
        "options": {"expires": 10},
    },
    # Starts due scheduled campaigns and wakes running ones with work due
    # (campaigns/dialer.py); call endings and status changes dial at once.
    "campaigns-dial-running": {
        "task": "campaigns.tasks.dial_running_campaigns",
        "schedule": 2.0,
        "options": {"expires": 4},
    },
    "realtime-sweep-reactions": {
        "task": "realtime.tasks.sweep_reactions",
        "schedule": 1.0,
        "options": {"expires": 5},
    },
    "realtime-trim-history": {
        "task": "realtime.tasks.trim_event_history",
        "schedule": 300.0,
        "options": {"expires": 600},
    },
    # Due schedule runs, exactly once whatever the number of beats and workers
    # (schedules/runner.py). The tick is cheap when nothing is due: one indexed query.
    "schedules-run-due": {
        "task": "schedules.tasks.run_due_schedules",
        "schedule": SCHEDULES_TICK_SECONDS,
        "options": {"expires": SCHEDULES_TICK_SECONDS * 5},
    },
    "schedules-trim-runs": {
        "task": "schedules.tasks.trim_schedule_runs",
        "schedule": 3600.0,
        "options": {"expires": 600},
    },
    "notifications-trim": {
        "task": "notifications.tasks.trim_notifications",
        "schedule": 3600.0,
        "options": {"expires": 600},
    },
    # Deletes the files of exports past their retention (status `expired`).
    "exports-expire": {
        "task": "exports.tasks.expire_exports",
        "schedule": 60.0,
        "options": {"expires": 120},
    },
    # The delivery log past WEBHOOKS_DELIVERY_RETENTION_DAYS.
    "webhooks-trim-deliveries": {
        "task": "webhooks.tasks.trim_deliveries",
        "schedule": 3600.0,
        "options": {"expires": 600},
    },
    # At most one `campaign-progress` a second per campaign, and one after the last change.
    "campaigns-flush-progress": {
        "task": "campaigns.progress_tasks.flush_campaign_progress",
        "schedule": 1.0,
        "options": {"expires": 5},
    },
}
# Task modules autodiscovery (each app's tasks.py) does not find.
CELERY_IMPORTS = ["campaigns.progress_tasks"]
CELERY_TIMEZONE = "UTC"

LOG_LEVEL = env.str("LOG_LEVEL", default="INFO")
LOG_FORMAT = env.str("LOG_FORMAT", default="json")
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {
        "context": {"()": "project.logging.RequestContextFilter"},
        "redact": {"()": "project.logging.SecretRedactingFilter"},
    },
    "formatters": {
        "json": {"()": "project.logging.JsonFormatter"},
        "text": {
            "format": "%(asctime)s %(levelname)s %(name)s "
            "[req=%(request_id)s ws=%(workspace_id)s] %(message)s"
        },
    },
    "handlers": {
        "console": {
            "class": "logging.StreamHandler",
            "formatter": "json" if LOG_FORMAT == "json" else "text",
            "filters": ["context", "redact"],
        },
    },
    "root": {"handlers": ["console"], "level": LOG_LEVEL},
    "loggers": {
        "django.server": {"level": "WARNING"},
        # A line per task received and succeeded is noise with a sweeper every second;
        # failures still log at ERROR.
        "celery.app.trace": {"level": "WARNING"},
        # A line per webhook attempt; the delivery log has each one.
        "httpx": {"level": "WARNING"},
        "celery.worker.strategy": {"level": "WARNING"},
        "celery.beat": {"level": "WARNING"},
    },
}

# /metrics wants `Authorization: Bearer <token>`; without a token it is open with
# DEBUG on and refused (403 metrics_token_required) with DEBUG off.
METRICS_TOKEN = env.str("METRICS_TOKEN", default="")

# Realtime engine (docs/reference/events.md, docs/reference/streams.md).
REALTIME_HISTORY_HOURS = env.float("REALTIME_HISTORY_HOURS", default=24)
REALTIME_KEEPALIVE_SECONDS = env.float("REALTIME_KEEPALIVE_SECONDS", default=15)
REALTIME_RETRY_MS = env.int("REALTIME_RETRY_MS", default=3000)
# Events waiting for one slow client: a lag-warning at the soft limit, the
# stream is closed at the hard limit (the client resumes from its cursor).
REALTIME_BUFFER_SOFT_LIMIT = env.int("REALTIME_BUFFER_SOFT_LIMIT", default=1000)
REALTIME_BUFFER_HARD_LIMIT = env.int("REALTIME_BUFFER_HARD_LIMIT", default=5000)
# The same in bytes, whichever comes first: a few large events pin as much as
# thousands of small ones (1 MiB, as Centrifugo's client queue).
REALTIME_BUFFER_SOFT_BYTES = env.int("REALTIME_BUFFER_SOFT_BYTES", default=256 * 1024)
REALTIME_BUFFER_HARD_BYTES = env.int("REALTIME_BUFFER_HARD_BYTES", default=1024 * 1024)
# Requests running Django's sync code at once in one web process (project/django_asgi.py);
# the others wait for a slot on the event loop.
WEB_REQUEST_THREADS = env.int("WEB_REQUEST_THREADS", default=2)
if WEB_REQUEST_THREADS < 1:
    raise ImproperlyConfigured("WEB_REQUEST_THREADS must be at least 1.")
# Kernel send buffer of each connection under uvicorn (project/serve_uvicorn.py):
# bounded, so a slow client's backlog stays where the limits above can see it.
STREAM_SOCKET_SEND_BUFFER_BYTES = env.int("STREAM_SOCKET_SEND_BUFFER_BYTES", default=256 * 1024)
REALTIME_MAX_STREAMS_PER_WORKSPACE = env.int("REALTIME_MAX_STREAMS_PER_WORKSPACE", default=2000)
REALTIME_MAX_STREAMS_PER_PRINCIPAL = env.int("REALTIME_MAX_STREAMS_PER_PRINCIPAL", default=200)
# A stream ends with `shutdown` (the client resumes from its cursor) after this
# long, less up to a tenth at random so a fleet does not reconnect at once; 0: never.
REALTIME_MAX_STREAM_SECONDS = env.float("REALTIME_MAX_STREAM_SECONDS", default=3600)
# How often a process checks in the database that its streams' keys and members
# still hold (realtime/access.py): the bound when a revocation message is lost.
REALTIME_ACCESS_CHECK_SECONDS = env.float("REALTIME_ACCESS_CHECK_SECONDS", default=10)
# A committed event not yet published after this long is published by the sweeper.
REALTIME_SWEEP_GRACE_SECONDS = env.float("REALTIME_SWEEP_GRACE_SECONDS", default=1.5)
# A reaction (realtime/reactions.py) whose cursor is behind an event it wants and
# was not run for this long is run by the sweep: its trigger after commit was lost.
REALTIME_REACTION_GRACE_SECONDS = env.float("REALTIME_REACTION_GRACE_SECONDS", default=2.0)
REALTIME_REPLAY_BATCH = env.int("REALTIME_REPLAY_BATCH", default=500)
# A replay of at most this many events comes from pages shared by every stream of
# the process (realtime/pages.py), kept in a cache of this size; a longer one is
# read for the stream alone, filtered in the database.
REALTIME_REPLAY_SHARED_EVENTS = env.int("REALTIME_REPLAY_SHARED_EVENTS", default=20_000)
REALTIME_REPLAY_CACHE_MB = env.int("REALTIME_REPLAY_CACHE_MB", default=64)

# Who holds the SSE connections (docs/architecture.md "Pushpin in front"):
# "inprocess", this process's hub; "pushpin", a Pushpin (GRIP proxy) in front,
# which holds them while Django answers the opening request with GRIP headers
# and the relay publishes each committed event to it.
REALTIME_FRONT = env.str("REALTIME_FRONT", default="inprocess")
if REALTIME_FRONT not in ("inprocess", "pushpin"):
    raise ImproperlyConfigured(f"REALTIME_FRONT must be 'inprocess' or 'pushpin', not {REALTIME_FRONT!r}.")
# Pushpin's HTTP publish endpoint (its push_in_http_port), e.g. http://127.0.0.1:5561/publish/.
GRIP_PUBLISH_URL = env.str("GRIP_PUBLISH_URL", default="")
# Pushpin's sig_key: its requests carry Grip-Sig, a JWT signed with it; without a
# valid one a stream request is served in-process, and the next link refuses it.
GRIP_SIG_KEY = env.str("GRIP_SIG_KEY", default="")
# How often Pushpin asks the next link of a held stream again: the bound on a
# revocation reaching a held stream, and how long its admission slot and view
# outlive it (3 times this at most, so at most realtime.limits.EXPIRY_SECONDS / 2).
GRIP_REFRESH_SECONDS = env.int("GRIP_REFRESH_SECONDS", default=10)
if REALTIME_FRONT == "pushpin":
    if not GRIP_PUBLISH_URL.startswith(("http://", "https://")):
        raise ImproperlyConfigured("REALTIME_FRONT=pushpin needs GRIP_PUBLISH_URL, Pushpin's publish URL "
                                   "(e.g. http://127.0.0.1:5561/publish/).")
    if len(GRIP_SIG_KEY) < 32:  # HS256 wants a key as long as its hash (RFC 7518 3.2)
        raise ImproperlyConfigured("REALTIME_FRONT=pushpin needs GRIP_SIG_KEY, Pushpin's sig_key "
                                   "(32 characters at least).")
if not 1 <= GRIP_REFRESH_SECONDS <= 15:
    raise ImproperlyConfigured("GRIP_REFRESH_SECONDS must be 1 to 15.")
