"""The dashboard's pages: who is signed in and which of their workspaces a page
shows. Everything live comes from the browser's own calls to the public API."""

from django.conf import settings
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.csrf import ensure_csrf_cookie

from realtime import catalogue
from webhooks.filters import deliverable_types
from workspaces.models import Membership, Role

# The roles the API lets manage webhooks (the `admin` permission, workspaces/auth.py).
ADMIN_ROLES = frozenset({Role.OWNER, Role.ADMIN})


def _memberships(request: HttpRequest) -> tuple[list[Membership], Membership | None]:
    """The user's memberships and the one the page shows (`?workspace=`, or the first);
    404 for a workspace that is not theirs, or no such workspace: the same answer."""
    memberships = list(
        Membership.objects.filter(user=request.user).select_related("workspace").order_by("workspace__name")
    )
    if not memberships:
        return memberships, None
    wanted = request.GET.get("workspace")
    if not wanted:
        return memberships, memberships[0]
    current = next((m for m in memberships if m.workspace.slug == wanted), None)
    if current is None:
        raise Http404("No such workspace of yours.")
    return memberships, current


def _context(memberships: list[Membership], current: Membership, page: str) -> dict:
    return {
        "memberships": memberships,
        "workspace": current.workspace,
        "role": current.role,
        "page": page,  # the nav's current page, and where the switcher goes
        # Viewers read; the forms that place calls and run campaigns are for the others.
        "can_act": current.role != Role.VIEWER,
        # Webhooks send the workspace's events wherever they point: owners and admins only.
        "can_admin": current.role in ADMIN_ROLES,
    }


@login_required
@ensure_csrf_cookie  # the page POSTs for its stream tickets with the X-CSRFToken header
def dashboard(request: HttpRequest) -> HttpResponse:
    memberships, current = _memberships(request)
    if current is None:
        return render(request, "dashboard/no_workspace.html", status=200)
    return render(request, "dashboard/index.html", _context(memberships, current, "dashboard"))


def _first_sentence(text: str) -> str:
    words = " ".join(text.replace("`", "").split())
    return words.split(". ", 1)[0].rstrip(".") + "."


def _event_types() -> list[dict[str, str]]:
    """The types a webhook may receive, each with the first sentence of its
    description (docs/reference/events.md#workspace-events), for the form's choice."""
    described = {event_type.name: event_type.description for event_type in catalogue.all_types()}
    return [{"name": name, "description": _first_sentence(described.get(name, ""))}
            for name in deliverable_types()]


@login_required
@ensure_csrf_cookie
def webhooks(request: HttpRequest) -> HttpResponse:
    """The workspace's webhooks, for its owners and admins; anyone else is told who
    manages them (403, as the API answers them)."""
    memberships, current = _memberships(request)
    if current is None:
        return render(request, "dashboard/no_workspace.html", status=200)
    context = _context(memberships, current, "webhooks")
    if not context["can_admin"]:
        return render(request, "dashboard/webhooks.html", context, status=403)
    return render(request, "dashboard/webhooks.html", {
        **context, "event_types": _event_types(),
        # how long a rotated-out secret keeps signing, for the page to say before and after a rotation
        "secret_grace_hours": f"{settings.WEBHOOKS_SECRET_GRACE_HOURS:g}",
    })
