"""`GET /up`: the database (and Redis when configured) answer, or 503."""

from __future__ import annotations

import logging

from flask import Blueprint, current_app, jsonify
from flask.typing import ResponseReturnValue

blp = Blueprint("health", __name__)
log = logging.getLogger("passemarche.health")


@blp.route("/up", methods=["GET"])
def up() -> ResponseReturnValue:
    container = current_app.extensions["passemarche"]
    errors = []
    checks = (("database", lambda: container.uow().ping()), ("redis", container.ping_redis))
    for name, check in checks:
        try:
            check()
        except Exception as error:  # noqa: BLE001  (any failure means "unavailable")
            log.warning(
                "health check failed", extra={"fields": {"check": name, "error": str(error)}}
            )
            errors.append(f"{name} unavailable")
    if errors:
        return jsonify({"status": "unavailable", "errors": errors}), 503
    return jsonify({"status": "ok"}), 200
