"""ASGI entry point of the stock server: plain Django, as `startproject` makes it."""

import os

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "bench.stock.settings")
application = get_asgi_application()
