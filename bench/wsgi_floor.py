"""The REST benchmark's floor: the same Django project, settings, database and
views as ours, served by gunicorn's sync workers over WSGI
(`bench/run.py --scenarios rest --engines ours,wsgi-floor`).

A sync worker answers one request at a time in its process's main thread,
with no event loop, no thread per request and no async/sync hops, so beside
our ASGI process it shows what ASGI costs a plain read. It is not a way to
run Callboard: no stream can be served here, and this process starts no
realtime hub, so it never hears that a key was revoked (the key cache's 5 s
bound is all it has).
"""

import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "project.settings")
application = get_wsgi_application()
