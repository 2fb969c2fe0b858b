"""A test-only URLconf: endpoints that raise the errors no production endpoint raises yet.

`/api/test/...` is a small NinjaAPI of its own that reuses every exception
handler of the real API, so its answers are what a real endpoint's would be.
`/api/test-plain/...` is a plain Django view under /api/, outside ninja, so
only the middleware stands between its failure and the client.
The real URL patterns follow, so the rest of the site behaves as usual.
"""

from django.http import HttpRequest
from django.urls import path
from ninja import NinjaAPI

from project.api import api as real_api
from project.errors import Conflict, PaymentRequired, TooManyRequests
from project.urls import urlpatterns as real_urlpatterns

SECRET_FAILURE_MESSAGE = "db password is hunter2 and the disk is on fire"

test_api = NinjaAPI(title="errors under test", urls_namespace="test-errors")
for exception_class, handler in real_api._exception_handlers.items():
    test_api.add_exception_handler(exception_class, handler)


@test_api.get("/payment-required")
def payment_required(request: HttpRequest):
    raise PaymentRequired("The balance is exhausted.", code="insufficient_balance",
                          details={"balance": "0.00"})


@test_api.post("/conflict")
def conflict(request: HttpRequest):
    raise Conflict("The campaign is already running.", code="campaign_running")


@test_api.get("/too-many-requests")
def too_many_requests(request: HttpRequest):
    raise TooManyRequests(headers={"Retry-After": "7"})


@test_api.get("/crash")
def crash(request: HttpRequest):
    raise RuntimeError(SECRET_FAILURE_MESSAGE)


def plain_crash(request: HttpRequest):
    raise RuntimeError(SECRET_FAILURE_MESSAGE)


urlpatterns = [
    path("api/test/", test_api.urls),
    path("api/test-plain/crash", plain_crash),
    *real_urlpatterns,
]
