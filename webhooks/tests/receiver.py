"""A real webhook receiver for the tests: an HTTP server on 127.0.0.1 in a thread,
which verifies EVERY request with `standardwebhooks.Webhook(secret).verify(...)`
(with each secret it is given) and keeps what it got. `answer(request)` decides
each response (status, headers, body, seconds to wait first)."""

import json
import threading
import time
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from standardwebhooks import Webhook, WebhookVerificationError


@dataclass
class Received:
    path: str
    headers: dict[str, str]
    body: bytes
    verified_by: list[str]  # the secrets whose verification passed

    @property
    def event(self) -> dict:
        return json.loads(self.body)


@dataclass
class Answer:
    status: int = 200
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes = b"ok"
    delay: float = 0.0


@dataclass
class Receiver:
    secrets: list[str]
    answer: object = None  # callable(Received, index) -> Answer
    received: list[Received] = field(default_factory=list)
    unverified: list[Received] = field(default_factory=list)
    url: str = ""
    lock: threading.Lock = field(default_factory=threading.Lock)

    def event_ids(self) -> list[str]:
        return [item.headers["webhook-id"] for item in self.received]

    def wait_for(self, count: int, *, timeout: float = 30) -> list[Received]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if len(self.received) + len(self.unverified) >= count:
                return self.received
            time.sleep(0.02)
        raise AssertionError(f"{len(self.received)} of {count} deliveries arrived within {timeout} s")


def _handler(receiver: Receiver):
    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):
            body = self.rfile.read(int(self.headers.get("content-length", 0)))
            headers = {name.lower(): value for name, value in self.headers.items()}
            verified_by = []
            for secret in receiver.secrets:
                try:
                    Webhook(secret).verify(body, headers)
                    verified_by.append(secret)
                except WebhookVerificationError:
                    pass
            item = Received(self.path, headers, body, verified_by)
            with receiver.lock:
                index = len(receiver.received) + len(receiver.unverified)
                (receiver.received if verified_by else receiver.unverified).append(item)
            answer = receiver.answer(item, index) if receiver.answer else Answer()
            if answer.delay:
                time.sleep(answer.delay)
            try:
                self.send_response(answer.status)
                for name, value in answer.headers.items():
                    self.send_header(name, value)
                self.send_header("content-length", str(len(answer.body)))
                self.end_headers()
                self.wfile.write(answer.body)
            except OSError:  # the sender gave up waiting
                pass

        def log_message(self, *args):
            pass

    return Handler


class Server(ThreadingHTTPServer):
    request_queue_size = 128  # the default 5 drops connections of a sender with many in flight


@contextmanager
def running_receiver(secrets: list[str], answer=None):
    receiver = Receiver(secrets=list(secrets), answer=answer)
    server = Server(("127.0.0.1", 0), _handler(receiver))
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    receiver.url = f"http://127.0.0.1:{server.server_address[1]}/hook"
    try:
        yield receiver
    finally:
        server.shutdown()
        server.server_close()
