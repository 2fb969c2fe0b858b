"""The ASGI handler (project/django_asgi.py): each request's sync code on one
thread, threads reused, concurrent requests on threads of their own."""

import asyncio
import threading

import pytest
from asgiref.testing import ApplicationCommunicator
from django.core.signals import request_finished, request_started
from django.http import JsonResponse, StreamingHttpResponse
from django.test import override_settings
from django.urls import path

from project.django_asgi import OneThreadPerRequestHandler

seen: list[tuple[str, int]] = []
both_inside = threading.Barrier(2, timeout=5)


class Crowd:
    """How many views are inside at once; they stay until `gate` opens."""

    def __init__(self):
        self.lock = threading.Lock()
        self.inside = self.peak = 0
        self.gate = threading.Event()


crowd = Crowd()


def crowded(request):
    with crowd.lock:
        crowd.inside += 1
        crowd.peak = max(crowd.peak, crowd.inside)
    crowd.gate.wait(timeout=10)
    with crowd.lock:
        crowd.inside -= 1
    return JsonResponse({})


def where(request):
    seen.append(("view", threading.get_ident()))
    return JsonResponse({"thread": threading.get_ident()})


def meet(request):
    both_inside.wait()  # raises BrokenBarrierError when the other never arrives
    return JsonResponse({"thread": threading.get_ident()})




def _scope(route: str) -> dict:
    return {"type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": "GET",
            "scheme": "https", "path": f"/{route}", "raw_path": f"/{route}".encode(), "query_string": b"",
            "root_path": "", "headers": [(b"host", b"localhost")], "client": ("127.0.0.1", 50000),
            "server": ("localhost", 443)}


async def _get(handler, route: str) -> tuple[int, bytes]:
    communicator = ApplicationCommunicator(handler, _scope(route))
    await communicator.send_input({"type": "http.request", "body": b"", "more_body": False})
    start = await communicator.receive_output(5)
    body = b""
    while True:
        message = await communicator.receive_output(5)
        body += message.get("body", b"")
        if not message.get("more_body"):
            break
    await communicator.wait(5)
    return start["status"], body


def _note(name):
    def receiver(**kwargs):
        seen.append((name, threading.get_ident()))
    return receiver


@pytest.fixture
def handler():
    seen.clear()
    started, finished = _note("started"), _note("finished")
    request_started.connect(started)
    request_finished.connect(finished)
    with override_settings(ROOT_URLCONF=__name__, ALLOWED_HOSTS=["localhost"]):
        yield OneThreadPerRequestHandler()
    request_started.disconnect(started)
    request_finished.disconnect(finished)


def test_a_request_runs_its_signals_and_view_on_one_thread_off_the_loop(handler):
    # given the handler
    # when one request goes through it
    status, _ = asyncio.run(_get(handler, "where"))

    # then the request-started signal, the view and the close ran on one thread, not the loop's
    assert status == 200
    assert [name for name, _ in seen] == ["started", "view", "finished"]
    assert len({ident for _, ident in seen}) == 1
    assert seen[0][1] != threading.get_ident()


def test_a_finished_requests_thread_serves_the_next(handler):
    # given a request that has been answered
    async def two():
        await _get(handler, "where")
        await _get(handler, "where")

    # when another comes after it
    asyncio.run(two())

    # then it runs on the same thread: no thread is made per request
    views = [ident for name, ident in seen if name == "view"]
    assert len(views) == 2 and views[0] == views[1]


def test_concurrent_requests_run_on_threads_of_their_own(handler):
    # given two requests whose views each wait for the other to be inside
    async def together():
        return await asyncio.gather(_get(handler, "meet"), _get(handler, "meet"))

    # when they arrive together
    answers = asyncio.run(together())

    # then both are answered (on one shared thread the first would wait for the second forever)
    assert [status for status, _ in answers] == [200, 200]
    assert answers[0][1] != answers[1][1]


def test_no_more_requests_run_their_views_at_once_than_the_slots(handler):
    # given two slots, and five requests whose views stay until the gate opens
    crowd.__init__()

    async def five():
        requests = [asyncio.ensure_future(_get(handler, "crowded")) for _ in range(5)]
        # Unbounded, all five would be inside: wait for that, or for a second.
        deadline = asyncio.get_running_loop().time() + 1
        while crowd.inside < 5 and asyncio.get_running_loop().time() < deadline:
            await asyncio.sleep(0.01)
        crowd.gate.set()
        return await asyncio.gather(*requests)

    # when they arrive together
    with override_settings(WEB_REQUEST_THREADS=2):
        answers = asyncio.run(five())

    # then all are answered, never more than two views at once
    assert [status for status, _ in answers] == [200] * 5
    assert crowd.peak == 2


def streamed(request):
    def parts():
        seen.append(("streaming", threading.get_ident()))
        yield b"one,"
        yield b"two"
    return StreamingHttpResponse(parts())


urlpatterns = [path("where", where), path("meet", meet), path("crowded", crowded), path("streamed", streamed)]


@pytest.mark.filterwarnings("ignore:StreamingHttpResponse must consume synchronous iterators")
def test_an_answer_is_closed_before_it_is_sent_and_a_streamed_one_after(handler):
    # given
    # when a plain answer and a streamed one go through
    plain = asyncio.run(_get(handler, "where"))
    streamed_answer = asyncio.run(_get(handler, "streamed"))

    # then the plain one finished (its connection handed back) in the view's hop, and
    # the streamed one only after its parts were read
    assert plain[0] == streamed_answer[0] == 200
    assert streamed_answer[1] == b"one,two"
    names = [name for name, _ in seen]
    assert names == ["started", "view", "finished", "started", "streaming", "finished"]
