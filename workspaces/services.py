"""Changes to workspaces, memberships and keys. Views, commands and the admin call these."""

from dataclasses import dataclass
from decimal import Decimal, InvalidOperation

from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.text import slugify

from project.errors import BadRequest, Conflict, NotFound
from workspaces import grants
from workspaces.keys import generate_key
from workspaces.models import ApiKey, Membership, Role, Scope, Workspace, validate_timezone
from workspaces.revocation import key_taken_away
from workspaces.scoping import get_scoped_or_404, scoped
from workspaces.signals import workspace_created

User = get_user_model()

_KEY_PREFIX_ATTEMPTS = 5
CENT = Decimal("0.01")
_credit_field = Workspace._meta.get_field("opening_credit")
MAX_CREDIT = Decimal(10) ** (_credit_field.max_digits - _credit_field.decimal_places)
MAX_NAME_LENGTH = Workspace._meta.get_field("name").max_length


@dataclass(frozen=True)
class IssuedKey:
    api_key: ApiKey
    plaintext: str  # shown once, never stored


def _unique_slug(name: str) -> str:
    base = slugify(name)[:48] or "workspace"
    slug, n = base, 1
    while Workspace.objects.filter(slug=slug).exists():
        n += 1
        slug = f"{base}-{n}"
    return slug


def _chosen_slug(slug: str) -> str:
    chosen = slugify(slug)
    if not chosen or len(chosen) > Workspace._meta.get_field("slug").max_length:
        raise BadRequest(f"{slug!r} is not a usable slug.", code="invalid_slug")
    if Workspace.objects.filter(slug=chosen).exists():
        raise Conflict(f"The slug {chosen!r} is taken.", code="slug_taken")
    return chosen


def parse_credit(amount: str | Decimal) -> Decimal:
    """A credit amount in USD, rounded to the cent, that the database can hold."""
    try:
        credit = Decimal(str(amount))
    except InvalidOperation:
        raise BadRequest(f"{amount!r} is not an amount of money.", code="invalid_amount") from None
    if not credit.is_finite() or credit < 0:
        raise BadRequest("Credit must be zero or more.", code="invalid_amount")
    if credit >= MAX_CREDIT:
        raise BadRequest(f"Credit must be less than {MAX_CREDIT}.", code="invalid_amount")
    return credit.quantize(CENT)


def workspace_create(*, name: str, owner=None, slug: str | None = None,
                     timezone_name: str = "UTC", opening_credit: Decimal = Decimal("0")) -> Workspace:
    name = name.strip()
    if not name or len(name) > MAX_NAME_LENGTH:
        raise BadRequest(
            f"A workspace needs a name of 1 to {MAX_NAME_LENGTH} characters.", code="invalid_name"
        )
    try:
        validate_timezone(timezone_name)
    except ValidationError:
        raise BadRequest(f"{timezone_name!r} is not a time zone.", code="invalid_timezone") from None
    with transaction.atomic():
        workspace = Workspace.objects.create(
            name=name,
            slug=_chosen_slug(slug) if slug else _unique_slug(name),
            timezone=timezone_name,
            opening_credit=parse_credit(opening_credit),
        )
        if owner is not None:
            membership_add(workspace=workspace, user=owner, role=Role.OWNER)
        workspace_created.send(sender=Workspace, workspace=workspace)
    return workspace


def membership_add(*, workspace: Workspace, user, role: str) -> Membership:
    if role not in Role.values:
        raise BadRequest(f"{role!r} is not a role.", code="invalid_role")
    membership, _ = Membership.objects.update_or_create(
        workspace=workspace, user=user, defaults={"role": role}
    )
    return membership


def membership_remove(*, workspace: Workspace, user) -> None:
    """Takes `user` out of `workspace`; their open streams of it end (workspaces.revocation).
    The last owner stays: a workspace always has one."""
    with transaction.atomic():
        membership = scoped(Membership, workspace).select_for_update().filter(user=user).first()
        if membership is None:
            raise NotFound("That user is not a member of this workspace.", code="not_a_member")
        owners = scoped(Membership, workspace).filter(role=Role.OWNER).select_for_update()
        if membership.role == Role.OWNER and len(owners) == 1:
            raise Conflict("A workspace keeps at least one owner.", code="last_owner")
        membership.delete()


def user_ensure(*, username: str, password: str | None = None):
    """The user named `username`, created when missing. Without a password a new
    user cannot sign in until one is set (by staff in the admin)."""
    user = User.objects.filter(username=username).first()
    if user is None:
        user = User(username=username)
        if password:
            user.set_password(password)
        else:
            user.set_unusable_password()
        user.save()
    elif password:
        user.set_password(password)
        user.save(update_fields=["password"])
    return user


def validate_scopes(scopes: list[str]) -> list[str]:
    unknown = sorted(set(scopes) - set(Scope.values))
    if unknown or not scopes:
        raise BadRequest(
            "Scopes must be a non-empty list of: " + ", ".join(Scope.values) + ".",
            code="invalid_scopes",
            details={"unknown": unknown, "valid": list(Scope.values)},
        )
    # Canonical order, no repeats.
    return [scope for scope in Scope.values if scope in scopes]


def api_key_create(*, workspace: Workspace, name: str, scopes: list[str], created_by=None) -> IssuedKey:
    name = name.strip()
    max_length = ApiKey._meta.get_field("name").max_length
    if not name or len(name) > max_length:
        raise BadRequest(f"An API key needs a name of 1 to {max_length} characters.", code="invalid_name")
    scopes = validate_scopes(scopes)
    for _ in range(_KEY_PREFIX_ATTEMPTS):
        new = generate_key()
        try:
            with transaction.atomic():
                api_key = ApiKey.objects.create(
                    workspace=workspace, name=name, scopes=scopes, prefix=new.prefix,
                    hashed_secret=new.hashed_secret, created_by=created_by,
                )
            return IssuedKey(api_key=api_key, plaintext=new.plaintext)
        except IntegrityError:
            continue  # the 8-character lookup prefix collided; draw another
    raise RuntimeError("could not draw a unique API key prefix")


def api_key_revoke(*, workspace: Workspace, key_id) -> ApiKey:
    """Revokes a key of `workspace`. Revoking a revoked key changes nothing."""
    api_key = get_scoped_or_404(ApiKey, workspace, pk=key_id)
    # Conditional, so the first revocation's time stands when two race.
    scoped(ApiKey, workspace).filter(pk=api_key.pk, revoked_at__isnull=True).update(
        revoked_at=timezone.now()
    )
    api_key.refresh_from_db(fields=["revoked_at"])
    # Every time, not only the first: a broadcast that was lost is sent again.
    key_taken_away(api_key, grants.KEY_REVOKED)
    return api_key
