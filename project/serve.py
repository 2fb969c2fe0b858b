"""daphne, with an access log that goes through our JSON logging with secrets removed.

daphne's own access log prints the full URI, query string included, and SSE
tickets travel in the query string. Its `server_class` is the extension point:
we swap the action logger it is given for ours.

    python -m project.serve [daphne arguments] project.asgi:application
"""

import logging

from daphne.cli import CommandLineInterface
from daphne.server import Server

from project.logging import redact_secrets

access_log = logging.getLogger("callboard.access")

_HTTP_ACTIONS = {"complete"}
_WS_ACTIONS = {"connecting", "connected", "rejected", "disconnected"}


class AccessLog:
    """daphne's action-logger interface, writing one structured record per action."""

    def __call__(self, protocol: str, action: str, details: dict) -> None:
        # HTTP is logged at INFO by RequestContextMiddleware, with the request id
        # and workspace; here only at DEBUG, for requests that never reached Django.
        if protocol == "http" and action in _HTTP_ACTIONS:
            level = logging.DEBUG
            message = f"{details['method']} {redact_secrets(details['path'])} {details['status']}"
        elif protocol == "websocket" and action in _WS_ACTIONS:
            level = logging.INFO
            message = f"WS {action} {redact_secrets(details['path'])}"
        else:
            return
        access_log.log(level, message, extra={
            "protocol": protocol, "action": action, "client": details.get("client"),
            "status": details.get("status"), "bytes": details.get("size"),
            "duration_ms": round(details["time_taken"] * 1000, 2) if "time_taken" in details else None,
        })


class RedactingServer(Server):
    def __init__(self, *args, action_logger=None, **kwargs):
        super().__init__(*args, action_logger=AccessLog() if action_logger else None, **kwargs)


class CallboardCommandLine(CommandLineInterface):
    server_class = RedactingServer


if __name__ == "__main__":
    CallboardCommandLine.entrypoint()
