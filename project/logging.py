"""Structured logs: one JSON object a line, with request context and no secrets."""

import logging
import re

from pythonjsonlogger.json import JsonFormatter as _LibraryJsonFormatter

from project.request_context import request_id_var, workspace_id_var

# Secrets that may reach a log line: API keys anywhere in text, credentials in
# query strings (daphne logs the full URI), bearer headers.
_SECRET_PATTERNS = [
    (re.compile(r"\b(cbk_[a-z0-9]{8})_[A-Za-z0-9_\-]+"), r"\1_[redacted]"),
    (
        # Any parameter whose name ends in one of these: access_token, client_secret, ...
        re.compile(r"(?i)\b(\w*(?:ticket|api_key|apikey|token|password|secret))=[^&\s\"']+"),
        r"\1=[redacted]",
    ),
    (re.compile(r"(?i)\bbearer\s+[^\s\"']+"), "Bearer [redacted]"),
]


def redact_secrets(text: str) -> str:
    for pattern, replacement in _SECRET_PATTERNS:
        text = pattern.sub(replacement, text)
    return text


class RequestContextFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        record.request_id = request_id_var.get()
        record.workspace_id = workspace_id_var.get()
        return True


class SecretRedactingFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        redacted = redact_secrets(message)
        if redacted != message:
            record.msg, record.args = redacted, None
        return True


class JsonFormatter(_LibraryJsonFormatter):
    def __init__(self, *args, **kwargs):
        kwargs.setdefault(
            "fmt", "%(asctime)s %(levelname)s %(name)s %(message)s %(request_id)s %(workspace_id)s"
        )
        kwargs.setdefault("rename_fields", {"asctime": "time", "levelname": "level", "name": "logger"})
        super().__init__(*args, **kwargs)

    def format(self, record: logging.LogRecord) -> str:
        # uvicorn attaches a copy of its message with terminal colour codes.
        record.__dict__.pop("color_message", None)
        return redact_secrets(super().format(record))
