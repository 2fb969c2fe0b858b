"""ASGI entry point: HTTP (Django, including streaming views) and WebSocket (channels)."""

import os

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "project.settings")
django_asgi_app = get_asgi_application()

# Imported after Django is set up: these touch models and settings.
from channels.routing import ProtocolTypeRouter, URLRouter  # noqa: E402
from channels.sessions import SessionMiddlewareStack  # noqa: E402

from project.body_limit import BodyLimit  # noqa: E402
from project.routing import websocket_urlpatterns  # noqa: E402
from realtime.asgi import StreamRouter  # noqa: E402

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
