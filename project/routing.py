"""WebSocket routes. Each app that serves a WebSocket adds its patterns here."""

websocket_urlpatterns: list = []
