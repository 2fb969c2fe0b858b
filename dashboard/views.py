"""The dashboard page: who is signed in and which of their workspaces it shows.
Everything live comes from the browser's own calls to the public API."""

from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.csrf import ensure_csrf_cookie

from workspaces.models import Membership, Role


@login_required
@ensure_csrf_cookie  # the page POSTs for its stream tickets with the X-CSRFToken header
def dashboard(request: HttpRequest) -> HttpResponse:
    memberships = list(
        Membership.objects.filter(user=request.user).select_related("workspace").order_by("workspace__name")
    )
    if not memberships:
        return render(request, "dashboard/no_workspace.html", status=200)
    wanted = request.GET.get("workspace")
    current = memberships[0]
    if wanted:
        current = next((m for m in memberships if m.workspace.slug == wanted), None)
        if current is None:  # not theirs, or no such workspace: the same answer
            raise Http404("No such workspace of yours.")
    return render(
        request,
        "dashboard/index.html",
        {
            "memberships": memberships,
            "workspace": current.workspace,
            "role": current.role,
            # Viewers read; the forms that place calls and run campaigns are for the others.
            "can_act": current.role != Role.VIEWER,
        },
    )
