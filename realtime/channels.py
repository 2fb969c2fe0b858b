"""Names of the Redis channels and keys realtime uses. Nothing else builds them."""

PREFIX = "callboard:rt"


def workspace_channel(workspace_id: str) -> str:
    """Every event and control message of one workspace: a process subscribes to
    the channels of the workspaces its clients watch, and decodes nothing else."""
    return f"{PREFIX}:ws:{workspace_id}"


def connections_key(scope: str, owner_id: str) -> str:
    """Sorted set of live connections of a workspace or a principal (score: expiry)."""
    return f"{PREFIX}:conns:{scope}:{owner_id}"


def client_key(client_id: str) -> str:
    """Who owns an open connection, for subscribe/unsubscribe from any process."""
    return f"{PREFIX}:client:{client_id}"


def access_channel() -> str:
    """Access taken away (a key revoked, a member removed): every process listens,
    whichever workspaces it watches, because any may hold the principal's streams
    or a cached key."""
    return f"{PREFIX}:access"


def reactions_queued_key(workspace_id: str) -> str:
    """Set while a run of the workspace's reactions is queued and not yet started
    (realtime/reactions.py `trigger`)."""
    return f"{PREFIX}:reactions-queued:{workspace_id}"


# --- GRIP (REALTIME_FRONT=pushpin): Pushpin's channels, and our keys about them ------------

GRIP_PREFIX = "cb"


def grip_view_channel(workspace_id: str, view_name: str) -> str:
    """Every persisted event of the workspace, for the held streams of one view (its
    filters): the frame when the view wants the event, else empty content, so that
    the channel's ids are the workspace's dense cursors (docs/architecture.md)."""
    return f"{GRIP_PREFIX}.v.{workspace_id}.{view_name}"


def grip_call_marker(call_id: str) -> str:
    """Carries nothing: a held stream subscribed to a call would hold it, and
    Pushpin's require-sub filter passes that call's events only to such streams."""
    return f"{GRIP_PREFIX}.s.{call_id}"


def grip_views_key(workspace_id: str) -> str:
    """Sorted set of the views held through Pushpin in a workspace (member: the
    view's spec, score: expiry); the relay publishes one item per view."""
    return f"{PREFIX}:views:{workspace_id}"


def grip_recoveries_key(client_id: str) -> str:
    """How many gaps a held stream had recovered in the current minute."""
    return f"{PREFIX}:grip-recoveries:{client_id}"


def grip_published_key(workspace_id: str) -> str:
    """The highest cursor of the workspace that Pushpin has taken (the relay's POST
    returned): below it a gap in a held stream is a loss, above it an event in flight."""
    return f"{PREFIX}:grip-published:{workspace_id}"
