"""What a client sends about a call, checked: phone numbers (E.164) and a
call's `variables`, each refused with a 400 that names the field; and the
first problem of a pydantic error, for a message.
"""

import json
from typing import Any

import phonenumbers
from django.conf import settings
from pydantic import ValidationError as PydanticValidationError

from project.errors import BadRequest


def first_problem(error: PydanticValidationError) -> str:
    """The first thing wrong with a payload, as `where: what` for an error message."""
    problem = error.errors()[0]
    where = ".".join(str(part) for part in problem.get("loc", ())) or "data"
    return f"{where}: {problem.get('msg', 'is not valid')}"


def e164(number: str, *, field: str) -> str:
    """The number in E.164, or a 400 naming the field."""
    text = (number or "").strip()
    try:
        parsed = phonenumbers.parse(text, None)
    except phonenumbers.NumberParseException:
        parsed = None
    if parsed is None or not text.startswith("+") or not phonenumbers.is_valid_number(parsed):
        raise BadRequest(
            f"{field} must be a valid phone number in E.164 form, like +14155550123.",
            code="invalid_phone_number",
            details={"field": field, "value": text[:32]},
        )
    return phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164)


def check_variables(variables: Any) -> None:
    """A call's `variables`: an object of at most CALLS_MAX_VARIABLES_BYTES as compact
    JSON, nested at most CALLS_MAX_VARIABLES_DEPTH deep. Every stream event that
    carries the call carries them, to every connection of the workspace."""
    if variables is None:
        return
    if not isinstance(variables, dict):
        raise BadRequest("`variables` must be an object.", code="invalid_variables")
    limit = settings.CALLS_MAX_VARIABLES_DEPTH
    depth = _nesting(variables, limit)  # first: measuring the size would recurse as deep
    if depth > limit:
        raise BadRequest(
            f"`variables` nest at most {limit} levels deep.",
            code="variables_too_deep",
            details={"max_depth": limit},
        )
    most = settings.CALLS_MAX_VARIABLES_BYTES
    try:
        size = len(json.dumps(variables, separators=(",", ":"), ensure_ascii=False, allow_nan=False).encode())
    except ValueError:  # NaN or Infinity: Python's parser takes them, JSON and PostgreSQL do not
        raise BadRequest("`variables` must be JSON: no NaN or Infinity.", code="invalid_variables") from None
    if size > most:
        raise BadRequest(
            f"`variables` take at most {most} bytes of JSON; these take {size}.",
            code="variables_too_large",
            details={"max_bytes": most, "bytes": size},
        )


def _nesting(value: Any, limit: int) -> int:
    """How deeply objects and arrays nest in `value` (an object alone: 1), without
    recursion; it stops counting past `limit`."""
    deepest, pending = 0, [(value, 1)]
    while pending and deepest <= limit:
        item, depth = pending.pop()
        children = item.values() if isinstance(item, dict) else item if isinstance(item, list) else None
        if children is None:
            continue
        deepest = max(deepest, depth)
        pending.extend((child, depth + 1) for child in children)
    return deepest
