"""Structured logging of API calls: one record per attempt on the `passemarche_client` logger,
with method, path, status, attempt and duration. Neither headers, bodies, tokens nor secrets are
ever logged; query strings are dropped (capability links carry tokens in them)."""

from __future__ import annotations

import json
import logging
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any, TextIO

LOGGER_NAME = "passemarche_client"
logger = logging.getLogger(LOGGER_NAME)
# A library does not print: without this, an application that configured no logging would get
# the warnings on stderr through Python's last-resort handler.
logger.addHandler(logging.NullHandler())


def log_call(
    method: str,
    path: str,
    status: int | None,
    attempt: int,
    duration: float,
    *,
    request_id: str | None = None,
    error: str | None = None,
    retry_in: float | None = None,
) -> None:
    fields: dict[str, Any] = {
        "method": method,
        "path": path.split("?", 1)[0],
        "status": status,
        "attempt": attempt,
        "duration_ms": round(duration * 1000, 1),
    }
    if request_id:
        fields["request_id"] = request_id
    if error:
        fields["error"] = error
    if retry_in is not None:
        fields["retry_in_s"] = round(retry_in, 2)
    level = logging.INFO if status is not None and status < 400 else logging.WARNING
    message = " ".join(f"{key}={value}" for key, value in fields.items())
    logger.log(level, "api_call %s", message, extra={"api_call": fields})


class JsonFormatter(logging.Formatter):
    """One JSON object per line: the record's level and message, plus its `api_call` fields."""

    def format(self, record: logging.LogRecord) -> str:
        data: dict[str, Any] = {"level": record.levelname.lower(), "logger": record.name}
        fields = getattr(record, "api_call", None)
        if isinstance(fields, dict):
            data["event"] = "api_call"
            data.update(fields)
        else:
            data["message"] = record.getMessage()
        return json.dumps(data, ensure_ascii=False)


@contextmanager
def json_logs(level: int = logging.INFO, stream: TextIO | None = None) -> Iterator[None]:
    """JSON lines on stderr for this package's logger while the block runs (the command-line
    tool's `-v`); the logger is left as it was found afterwards."""
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.setFormatter(JsonFormatter())
    saved = (logger.handlers[:], logger.level, logger.propagate)
    logger.handlers[:] = [handler]
    logger.setLevel(level)
    logger.propagate = False
    try:
        yield
    finally:
        logger.handlers[:], level, logger.propagate = saved
        logger.setLevel(level)
