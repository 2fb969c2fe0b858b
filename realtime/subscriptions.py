"""Adding a call's stream events to an open dashboard connection, from any process.

The REST request may land on another process than the connection. It checks
the connection registry (the connection must be open and the caller's own),
then publishes a control message on the workspace's channel; the process that
holds the connection applies it in order with the events.
"""

import json

from project.errors import NotFound
from project.redis_client import get_redis
from realtime.channels import client_key, workspace_channel
from realtime.wire import encode_control


def _own_open_connection(*, workspace_id: str, subject_id: str, client_id: str) -> dict:
    raw = get_redis().get(client_key(client_id)) if client_id else None
    record = json.loads(raw) if raw else None
    # Someone else's connection is as unknown as a closed one: ids reveal nothing.
    if (record is None or record["workspace_id"] != workspace_id
            or record["subject_id"] != subject_id or record["stream"] != "workspace"):
        raise NotFound("No open stream connection with that client_id.", code="unknown_client")
    return record


def _send(action: str, *, workspace_id: str, subject_id: str, client_id: str, call_id: str) -> None:
    _own_open_connection(workspace_id=workspace_id, subject_id=subject_id, client_id=client_id)
    message = encode_control(action=action, client_id=client_id, call_id=call_id)
    get_redis().publish(workspace_channel(workspace_id), message)


def subscribe_call(*, workspace_id: str, subject_id: str, client_id: str, call_id: str) -> None:
    _send("subscribe", workspace_id=workspace_id, subject_id=subject_id, client_id=client_id,
          call_id=call_id)


def unsubscribe_call(*, workspace_id: str, subject_id: str, client_id: str, call_id: str) -> None:
    _send("unsubscribe", workspace_id=workspace_id, subject_id=subject_id, client_id=client_id,
          call_id=call_id)
