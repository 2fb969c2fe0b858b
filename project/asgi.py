"""ASGI entry point: HTTP (Django, including streaming views) and WebSocket (channels)."""

import os

import django

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "project.settings")
# What django.core.asgi.get_asgi_application does, with our handler (project/django_asgi.py).
django.setup(set_prefix=False)

# Imported after Django is set up: these touch models and settings.
from channels.routing import ProtocolTypeRouter, URLRouter  # noqa: E402
from channels.sessions import SessionMiddlewareStack  # noqa: E402

from project.body_limit import BodyLimit  # noqa: E402
from project.django_asgi import OneThreadPerRequestHandler  # noqa: E402
from project.routing import websocket_urlpatterns  # noqa: E402
from realtime.asgi import StreamRouter  # noqa: E402

django_asgi_app = OneThreadPerRequestHandler()
# The body limit sits in front of everything that could read a body: Django reads
# it whole before its own middleware runs (project/body_limit.py).
http_app = BodyLimit(StreamRouter(django_asgi_app))

application = ProtocolTypeRouter(
    {
        "http": http_app,
        # Origin is checked per socket (realtime.sockets): only session sockets need
        # it, and before anything is read, so the session (lazy here) and its user
        # are loaded there, after the check.
        "websocket": SessionMiddlewareStack(URLRouter(websocket_urlpatterns)),
    }
)
