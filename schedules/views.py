"""REST endpoints of schedules (docs/reference/rest.md#schedules). Thin: the work and
the events are in schedules.services, the reads in schedules.selectors."""

from django.http import HttpRequest
from ninja import Query, Router
from ninja.responses import Status

from project.errors import documented_errors
from project.pagination import PageParams, paginated
from schedules import selectors, services
from schedules.schemas import (
    PreviewOut,
    PreviewParams,
    RunListParams,
    RunPage,
    ScheduleIn,
    ScheduleListParams,
    ScheduleOut,
    SchedulePage,
    SchedulePatch,
)
from workspaces.auth import READ, WRITE, WorkspaceAuth

router = Router(tags=["schedules"])
AUTH_ERRORS = documented_errors(400, 401, 403, 429)  # 429: rate limits (docs/operations.md)
ONE = {**AUTH_ERRORS, **documented_errors(404)}
ACTION = {200: ScheduleOut, **ONE, **documented_errors(409)}


@router.post("/schedules", response={201: ScheduleOut, **AUTH_ERRORS, **documented_errors(409)},
             auth=WorkspaceAuth(WRITE))
def schedule_create(request: HttpRequest, payload: ScheduleIn):
    """Creates an active schedule: `run_at` for once, or `cron` (+ `timezone`) to
    recur. 400 `invalid_cron`, `invalid_timezone`, `invalid_run_at`, `invalid_action`,
    ... naming the field; 409 `schedule_limit_reached`."""
    schedule = services.schedule_create(workspace=request.auth.workspace, **payload.dict())
    return Status(201, services.schedule_object(schedule))


@router.get("/schedules", response={200: SchedulePage, **AUTH_ERRORS}, auth=WorkspaceAuth(READ))
def schedule_list(request: HttpRequest, filters: Query[ScheduleListParams], params: Query[PageParams]):
    schedules = selectors.schedule_list(request.auth.workspace, status=filters.status)
    return paginated(schedules, params, services.schedule_object)


@router.get("/schedules/preview", response={200: PreviewOut, **AUTH_ERRORS}, auth=WorkspaceAuth(READ))
def schedule_preview(request: HttpRequest, params: Query[PreviewParams]):
    """The next five times a schedule with this `cron` (or `run_at`) and `timezone`
    would run, to see what an expression means before saving it."""
    return services.schedule_preview(workspace=request.auth.workspace, cron=params.cron,
                                     run_at=params.run_at, timezone=params.timezone)


@router.get("/schedules/{schedule_id}", response={200: ScheduleOut, **ONE}, auth=WorkspaceAuth(READ))
def schedule_detail(request: HttpRequest, schedule_id: str):
    return services.schedule_object(selectors.schedule_get(request.auth.workspace, schedule_id))


@router.patch("/schedules/{schedule_id}", response=ACTION, auth=WorkspaceAuth(WRITE))
def schedule_update(request: HttpRequest, schedule_id: str, payload: SchedulePatch):
    """Changes an active or paused schedule (409 `schedule_action_not_allowed` once
    it has completed or failed). A new timing works out the next run from now."""
    schedule = services.schedule_update(
        workspace=request.auth.workspace, schedule_id=schedule_id, **payload.dict(exclude_unset=True)
    )
    return services.schedule_object(schedule)


@router.delete("/schedules/{schedule_id}", response={204: None, **ONE}, auth=WorkspaceAuth(WRITE))
def schedule_delete(request: HttpRequest, schedule_id: str):
    """Deletes the schedule and its runs; the calls it placed keep its id."""
    services.schedule_delete(workspace=request.auth.workspace, schedule_id=schedule_id)
    return Status(204, None)


@router.post("/schedules/{schedule_id}/pause", response=ACTION, auth=WorkspaceAuth(WRITE))
def schedule_pause(request: HttpRequest, schedule_id: str):
    """An active schedule pauses: nothing runs, and nothing is recorded missed, until it resumes."""
    return services.schedule_object(
        services.schedule_pause(workspace=request.auth.workspace, schedule_id=schedule_id)
    )


@router.post("/schedules/{schedule_id}/resume", response=ACTION, auth=WorkspaceAuth(WRITE))
def schedule_resume(request: HttpRequest, schedule_id: str):
    """A paused schedule is active again: a recurring one from its next time after now."""
    return services.schedule_object(
        services.schedule_resume(workspace=request.auth.workspace, schedule_id=schedule_id)
    )


@router.get("/schedules/{schedule_id}/runs", response={200: RunPage, **ONE}, auth=WorkspaceAuth(READ))
def schedule_runs(request: HttpRequest, schedule_id: str, filters: Query[RunListParams],
                  params: Query[PageParams]):
    """The schedule's runs, newest first: `executed`, `missed` or `failed` (with its `error`)."""
    runs = selectors.run_list(request.auth.workspace, schedule_id, outcome=filters.outcome)
    return paginated(runs, params, services.run_object)
