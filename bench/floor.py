"""The least an SSE server can do per connect: a bare ASGI app that answers every
GET with the stream headers and one `connected` event, then waits for the
client to leave. No auth, no admission, no replay, no Django.

Run under uvicorn with the settings of project.serve_uvicorn, it is the floor
that `bench/run.py --scenarios connects --engines ours,floor` puts our
connect path beside: what the server, the event loop and the kernel cost
on this machine before Callboard does anything.
"""

_HEADERS = [(b"content-type", b"text/event-stream"), (b"cache-control", b"no-cache")]
_CONNECTED = b'retry: 3000\n\nevent: connected\ndata: {"type":"connected"}\n\n'


async def app(scope, receive, send):
    if scope["type"] == "lifespan":
        while (await receive())["type"] != "lifespan.shutdown":
            pass
        return
    await send({"type": "http.response.start", "status": 200, "headers": _HEADERS})
    await send({"type": "http.response.body", "body": _CONNECTED, "more_body": True})
    while (await receive())["type"] != "http.disconnect":
        pass
