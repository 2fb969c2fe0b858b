"""Fixtures shared by the realtime tests."""

import time
import uuid

import pytest

from project import testing
from project.redis_client import get_redis
from realtime.channels import workspace_channel
from realtime.wire import Delivery, decode
from workspaces import services

WAIT = 10  # seconds: the bound of every wait of a subscriber


class Subscriber:
    """A real Redis subscriber of one workspace's channel."""

    def __init__(self, workspace):
        self.redis = get_redis()
        self.channel = workspace_channel(str(workspace.pk))
        self.pubsub = self.redis.pubsub()
        self.pubsub.subscribe(self.channel)
        assert self._next("subscribe") is not None, "the subscription was not confirmed"

    def _next(self, message_type):
        deadline = time.monotonic() + WAIT
        while time.monotonic() < deadline:
            message = self.pubsub.get_message(timeout=0.2)
            if message is not None and message["type"] == message_type:
                return message
        return None

    def received(self) -> list[Delivery]:
        """Everything published so far: a marker is published after it, and Redis delivers
        one channel's messages in order, so reading up to the marker misses nothing."""
        marker = f"marker:{uuid.uuid4()}"
        self.redis.publish(self.channel, marker)
        deliveries = []
        while True:
            message = self._next("message")
            assert message is not None, f"the marker did not come back within {WAIT} s"
            if message["data"] == marker:
                return deliveries
            deliveries.append(decode(message["data"].encode()))


@pytest.fixture
def workspace(db):
    """Acme without opening credit: the realtime tests count a workspace's events and
    cursors from the first, and an opening credit is an event (`balance-updated`)."""
    return services.workspace_create(name="Acme", slug="acme")


@pytest.fixture
def other_workspace(db):
    return services.workspace_create(name="Globex", slug="globex")


@pytest.fixture
def subscriber(workspace):
    subscriber = Subscriber(workspace)
    yield subscriber
    subscriber.pubsub.close()


def pytest_generate_tests(metafunc):
    """Every stream test runs under each ASGI server we support (project.testing.SERVERS):
    the test is named `[uvicorn]` or `[daphne]`, and running_server starts that one."""
    if metafunc.module.__name__.rsplit(".", 1)[-1].startswith("test_stream_"):
        metafunc.parametrize("asgi_server", testing.SERVERS, indirect=True)


@pytest.fixture(autouse=True)
def asgi_server(request, monkeypatch):
    """The server running_server starts when a test names none (autouse, so that
    pytest_generate_tests can parametrize it)."""
    server = getattr(request, "param", testing.default_server)
    monkeypatch.setattr(testing, "default_server", server)
    return server
