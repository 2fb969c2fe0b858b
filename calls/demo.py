"""Simulated traffic: the `simulate` command and the trickle that keeps the
demo workspace alive under `make run` (DEMO_CALL_TRICKLE)."""

import random

from django.conf import settings

from calls import services
from calls.models import ACTIVE_STATUSES, Agent, Call
from calls.runtime import get_runtime
from workspaces.models import Workspace
from workspaces.scoping import scoped

ACTIVE = list(ACTIVE_STATUSES)
DEMO_SLUG = "demo"
# Fictional numbers (the 555-01xx range) that still pass E.164 validation.
NUMBERS = [f"+1415555{number:04d}" for number in range(100, 200)]


def place_simulated_call(workspace: Workspace, rng: random.Random | None = None, *, runtime: str):
    """Records a believable call (outbound mostly, some inbound) without placing it;
    `runtime` is the one the caller will ask to play it."""
    rng = rng or random.Random()  # noqa: S311 - simulated traffic
    agents = list(scoped(Agent, workspace).values_list("name", flat=True)) or [None]
    inbound = rng.random() < 0.25
    customer = rng.choice(NUMBERS)
    return services.call_create(
        workspace=workspace, to_number=settings.CALLS_DEFAULT_FROM_NUMBER if inbound else customer,
        from_number=customer if inbound else None, agent=rng.choice(agents),
        direction="inbound" if inbound else "outbound", source="inbound" if inbound else "api",
        variables={"customer_name": rng.choice(["Ada", "Grace", "Alan", "Edsger", "Barbara", "Ken"])},
        place=False, runtime=runtime,
    )


def keep_demo_calls_going() -> int:
    """Tops the demo workspace up to DEMO_CALL_TRICKLE active simulated calls; the
    number placed."""
    wanted = settings.DEMO_CALL_TRICKLE
    workspace = Workspace.objects.filter(slug=DEMO_SLUG).first()
    if wanted <= 0 or workspace is None:
        return 0
    missing = max(0, wanted - scoped(Call, workspace).filter(status__in=ACTIVE).count())
    for _ in range(missing):
        call = place_simulated_call(workspace, runtime=settings.VOICE_RUNTIME)
        get_runtime().place(call)
    return missing
