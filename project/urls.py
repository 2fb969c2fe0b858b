from django.contrib import admin
from django.contrib.auth.views import LoginView
from django.http import HttpRequest
from django.shortcuts import redirect
from django.urls import include, path, re_path

from dashboard.views import dashboard, webhooks
from project.api import api
from project.errors import error_response
from project.health import healthz, readyz
from project.metrics import metrics_view
from workspaces.signin import unavailable_without_redis


def api_not_found(request: HttpRequest):
    return error_response(404, "not_found", f"There is no API endpoint at {request.path}.")


def home(request: HttpRequest):
    return redirect("/dashboard/")


urlpatterns = [
    path("api/v1/", api.urls),
    # Anything else under /api/ is a JSON 404, never Django's HTML page.
    re_path(r"^api/", api_not_found),
    path("healthz", healthz),
    path("readyz", readyz),
    path("metrics", metrics_view),
    # The two sign-in forms, ahead of their apps' own routes: a 503 page while the
    # lockout's Redis is unreachable (docs/operations.md, "Limits").
    path("admin/login/", unavailable_without_redis(admin.site.login)),
    path("accounts/login/", unavailable_without_redis(LoginView.as_view()), name="login"),
    path("admin/", admin.site.urls),
    path("accounts/", include("django.contrib.auth.urls")),
    path("dashboard/", dashboard, name="dashboard"),
    path("dashboard/webhooks/", webhooks, name="dashboard-webhooks"),
    path("", home),
]
