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
