"""Who is calling, in which workspace, and what they may do.

Order: a bearer API key; else the session cookie (unsafe methods then need a
CSRF token); else 401. A bearer header that fails is a 401 even when a session
cookie is present too: a client that sent a key meant that key.
"""

from dataclasses import dataclass
from datetime import timedelta

from django.conf import settings
from django.db.models import Q
from django.http import HttpRequest
from django.utils import timezone
from ninja.security.base import AuthBase
from ninja.utils import check_csrf

from project.client_address import request_address
from project.errors import BadRequest, Forbidden, NotAuthenticated
from project.request_context import bind_workspace
from workspaces.key_cache import verified_keys
from workspaces.keys import key_matches, prefix_of
from workspaces.models import ApiKey, Membership, Role, Scope, Workspace
from workspaces.throttles import note_failed_bearer, refuse_throttled_address, take_write_token

READ, WRITE, ADMIN, RUNTIME = "read", "write", "admin", "runtime"

PERMISSIONS_BY_ROLE = {
    Role.OWNER: frozenset({READ, WRITE, ADMIN}),
    Role.ADMIN: frozenset({READ, WRITE, ADMIN}),
    Role.MEMBER: frozenset({READ, WRITE}),
    Role.VIEWER: frozenset({READ}),
}
# A scope grants what the matching role would; `runtime` grants only ingest.
PERMISSIONS_BY_SCOPE = {
    Scope.ADMIN: PERMISSIONS_BY_ROLE[Role.ADMIN],
    Scope.WRITE: frozenset({READ, WRITE}),
    Scope.READ: frozenset({READ}),
    Scope.RUNTIME: frozenset({RUNTIME}),
}
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


@dataclass(frozen=True)
class Principal:
    """An authenticated caller acting in exactly one workspace."""

    workspace: Workspace
    permissions: frozenset
    user: object | None = None
    api_key: ApiKey | None = None
    role: str | None = None

    @property
    def kind(self) -> str:
        return "api_key" if self.api_key is not None else "user"

    @property
    def subject_id(self) -> str:
        """Stable identity of the caller, e.g. for binding tickets and counting streams."""
        return f"key:{self.api_key.pk}" if self.api_key is not None else f"user:{self.user.pk}"

    @property
    def scopes(self) -> list[str]:
        return list(self.api_key.scopes) if self.api_key is not None else []

    def can(self, permission: str) -> bool:
        return permission in self.permissions


def principal_for_key(api_key: ApiKey) -> Principal:
    granted = frozenset().union(*(PERMISSIONS_BY_SCOPE[Scope(s)] for s in api_key.scopes))
    return Principal(workspace=api_key.workspace, permissions=granted, api_key=api_key)


def principal_for_membership(membership: Membership) -> Principal:
    return Principal(
        workspace=membership.workspace,
        permissions=PERMISSIONS_BY_ROLE[Role(membership.role)],
        user=membership.user,
        role=membership.role,
    )


def _matches_workspace(workspace: Workspace, selector: str) -> bool:
    return selector in (str(workspace.pk), workspace.slug)


def membership_for(user, selector: str | None) -> Membership:
    """The membership a session user acts through; `selector` is X-Workspace (id or slug)."""
    memberships = list(Membership.objects.filter(user=user).select_related("workspace", "user"))
    if selector:
        for membership in memberships:
            if _matches_workspace(membership.workspace, selector):
                return membership
        raise Forbidden("You are not a member of that workspace.", code="workspace_forbidden")
    if not memberships:
        raise Forbidden("You are not a member of any workspace.", code="no_workspace")
    if len(memberships) > 1:
        raise BadRequest(
            "You belong to several workspaces: name one in the X-Workspace header.",
            code="workspace_required",
            details={"workspaces": [m.workspace.slug for m in memberships]},
        )
    return memberships[0]


def _note_key_use(api_key: ApiKey) -> None:
    """Records last use at a coarse resolution: most requests write nothing."""
    now = timezone.now()
    resolution = timedelta(seconds=settings.API_KEY_LAST_USED_RESOLUTION_SECONDS)
    if api_key.last_used_at and now - api_key.last_used_at < resolution:
        return
    # Conditional, so concurrent requests with the same key write once.
    ApiKey.objects.filter(pk=api_key.pk).filter(
        Q(last_used_at__isnull=True) | Q(last_used_at__lte=now - resolution)
    ).update(last_used_at=now)
    api_key.last_used_at = now


def active_key(plaintext: str) -> ApiKey:
    prefix = prefix_of(plaintext)
    api_key = None
    if prefix is not None:
        api_key = ApiKey.objects.select_related("workspace").filter(prefix=prefix).first()
    if api_key is None or not key_matches(plaintext, api_key.hashed_secret):
        raise NotAuthenticated("The API key is not valid.", code="invalid_api_key")
    if api_key.is_revoked:
        raise NotAuthenticated("The API key has been revoked.", code="api_key_revoked")
    verified_keys.put(plaintext, principal_for_key(api_key))
    return api_key


def _bearer_credential(header: str) -> str:
    scheme, _, credential = header.partition(" ")
    if scheme.lower() != "bearer" or not credential.strip():
        raise NotAuthenticated(
            "The Authorization header must be 'Bearer <api key>'.", code="invalid_authorization"
        )
    return credential.strip()


def _check_selector(workspace: Workspace, selector: str | None) -> None:
    if selector and not _matches_workspace(workspace, selector):
        raise Forbidden("This API key belongs to another workspace.", code="workspace_forbidden")


def principal_for_bearer(header: str, selector: str | None, *, client_address: str) -> Principal:
    """The principal of an `Authorization: Bearer <key>` header; `selector` is X-Workspace.
    An address that failed too many keys lately is refused before any lookup
    (`workspaces.throttles`), a valid key from it too: nothing is known about a
    key before it is looked up."""
    refuse_throttled_address(client_address)
    try:
        api_key = active_key(_bearer_credential(header))
    except NotAuthenticated:
        note_failed_bearer(client_address)
        raise
    _check_selector(api_key.workspace, selector)
    _note_key_use(api_key)
    return principal_for_key(api_key)


def recently_verified_principal(authorization: str | None, selector: str | None) -> Principal | None:
    """The principal of a bearer key verified moments ago (`workspaces.key_cache`),
    answered without the database; None when the request needs the full check.
    For the stream endpoints, whose clients reconnect in storms. `authorization`
    and `selector` are the Authorization and X-Workspace headers."""
    if not authorization:
        return None
    scheme, _, credential = authorization.partition(" ")
    if scheme.lower() != "bearer":
        return None
    principal = verified_keys.get(credential.strip())
    if principal is None:
        return None
    _check_selector(principal.workspace, selector)
    return principal


def principal_for_user(user, selector: str | None) -> Principal:
    """The principal of a signed-in user acting in the workspace `selector` names
    (id or slug; optional for a member of one workspace)."""
    if user is None or not user.is_authenticated or not user.is_active:
        raise NotAuthenticated()
    return principal_for_membership(membership_for(user, selector))


def _authenticate_session(request: HttpRequest) -> Principal:
    user = getattr(request, "user", None)
    signed_in = user is not None and user.is_authenticated
    if signed_in and request.method not in SAFE_METHODS and check_csrf(request) is not None:
        raise Forbidden("The CSRF token is missing or incorrect.", code="csrf_failed")
    return principal_for_user(user, request.headers.get("X-Workspace"))


def authenticate(request: HttpRequest) -> Principal:
    header = request.headers.get("Authorization")
    if header:
        # A key verified in the last seconds (workspaces.key_cache) needs no query:
        # the key lookup was 15 % of the server's samples in the REST benchmark.
        selector = request.headers.get("X-Workspace")
        principal = recently_verified_principal(header, selector)
        if principal is None:
            return principal_for_bearer(header, selector, client_address=request_address(request))
        _note_key_use(principal.api_key)  # in memory, unless the resolution has passed
        return principal
    return _authenticate_session(request)


def require(principal: Principal, permission: str) -> None:
    if principal.can(permission):
        return
    if principal.api_key is not None:
        raise Forbidden(f"This API key lacks the '{permission}' scope.", code="insufficient_scope")
    raise Forbidden(
        f"The '{principal.role}' role does not allow this; it needs '{permission}' access.",
        code="insufficient_role",
    )


class WorkspaceAuth(AuthBase):
    """django-ninja auth: authenticates, then requires one permission."""

    openapi_type = "http"
    openapi_scheme = "bearer"
    openapi_description = (
        "An API key as `Authorization: Bearer cbk_...`; browsers may use the "
        "session cookie instead (unsafe methods then need the X-CSRFToken header)."
    )

    def __init__(self, permission: str = READ):
        super().__init__()
        self.permission = permission

    def __call__(self, request: HttpRequest) -> Principal:
        principal = authenticate(request)
        require(principal, self.permission)
        if request.method not in SAFE_METHODS:
            take_write_token(principal.subject_id, runtime=self.permission == RUNTIME)
        bind_workspace(principal.workspace.pk)
        request.workspace_id = str(principal.workspace.pk)
        return principal
