"""Per-request values that every log line carries (request id, workspace id).

Context variables rather than thread-locals: they follow a request across
`sync_to_async` hops and stay separate between concurrent async requests.
"""

from contextvars import ContextVar

request_id_var: ContextVar[str] = ContextVar("request_id", default="-")
workspace_id_var: ContextVar[str] = ContextVar("workspace_id", default="-")


def bind_workspace(workspace_id: object) -> None:
    workspace_id_var.set(str(workspace_id))
