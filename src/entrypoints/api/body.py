"""Reading API request bodies safely, before any view or parser sees them.

The body is read once from the WSGI input with a hard limit, whatever the client declared: a
chunked body over the limit gets 413 (werkzeug would cut it and let the parser choke on half a
document), and JSON nested too deeply for the parser gets 400 like any invalid JSON.
"""

from __future__ import annotations

import json

from flask import Request, request
from werkzeug.exceptions import BadRequest, RequestEntityTooLarge

_CHUNK = 64 * 1024


def read_limited_body(req: Request, limit: int) -> bytes:
    declared = req.content_length
    if declared is not None and declared > limit:
        raise RequestEntityTooLarge()
    stream = req.environ["wsgi.input"]
    remaining = declared if declared is not None else None
    parts: list[bytes] = []
    size = 0
    while remaining is None or remaining > 0:
        chunk = stream.read(_CHUNK if remaining is None else min(_CHUNK, remaining))
        if not chunk:
            break
        size += len(chunk)
        if size > limit:
            raise RequestEntityTooLarge()
        parts.append(chunk)
        if remaining is not None:
            remaining -= len(chunk)
    return b"".join(parts)


def preload_json_body() -> None:
    """For API POSTs with a JSON body (after authentication: strangers never get this far)."""
    if request.method != "POST" or not request.path.startswith("/api/v1/"):
        return
    if request.mimetype != "application/json":
        return
    limit = request.max_content_length or 0
    data = read_limited_body(request, limit)
    if data.strip():
        try:
            json.loads(data)
        except (ValueError, RecursionError) as error:
            raise BadRequest("The request body is not valid JSON") from error
    # Werkzeug's own cache: get_data() (and so webargs and get_json) read these bytes.
    request._cached_data = data  # noqa: SLF001
