"""WebSocket routes. Each app that serves a WebSocket adds its patterns here."""

from django.urls import path, re_path

from calls.observe import open_observed_call
from realtime.sockets import StreamSocket, UnknownSocket

websocket_urlpatterns: list = [
    path("api/v1/calls/<str:call_id>/observe", StreamSocket.as_asgi(opener=open_observed_call)),
    re_path(r"", UnknownSocket.as_asgi()),
]
