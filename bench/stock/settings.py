"""Settings of the stock django-eventstream server (the baseline of bench/run.py).

As the library's README wires it: `daphne` and `django_eventstream` in
INSTALLED_APPS, EVENTSTREAM_REDIS so that send_event() from another process
reaches the server, and, when BENCH_STOCK_STORAGE=1, the database storage
(`EVENTSTREAM_STORAGE_CLASS`, after `migrate`). The rest is what
`startproject` gives, with the same database settings as ours.
"""

import os
from urllib.parse import urlparse

import environ

env = environ.Env()

SECRET_KEY = os.environ.get("SECRET_KEY", "bench-stock-not-a-secret")  # the bench server only
DEBUG = False
ALLOWED_HOSTS = ["127.0.0.1", "localhost"]

INSTALLED_APPS = [
    "daphne",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django_eventstream",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
]

ROOT_URLCONF = "bench.stock.urls"
ASGI_APPLICATION = "bench.stock.asgi.application"

DATABASES = {"default": env.db_url_config(os.environ["BENCH_STOCK_DATABASE_URL"])}
DATABASES["default"]["CONN_MAX_AGE"] = 60
DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    DATABASES["default"]["OPTIONS"] = {"timeout": 20}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
USE_TZ = True
TIME_ZONE = "UTC"

_redis = urlparse(os.environ["REDIS_URL"])
EVENTSTREAM_REDIS = {
    "host": _redis.hostname or "127.0.0.1",
    "port": _redis.port or 6379,
    "db": int((_redis.path or "/0").lstrip("/") or 0),
}
if os.environ.get("BENCH_STOCK_STORAGE") == "1":
    EVENTSTREAM_STORAGE_CLASS = "django_eventstream.storage.DjangoModelStorage"

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": os.environ.get("LOG_LEVEL", "WARNING")},
}
