"""`create_app`: the Flask application for a configuration (or an already built container)."""

from __future__ import annotations

import logging

from flask import Flask
from passemarche.adapters.job_queue import InProcessJobQueue
from passemarche.config import Config
from passemarche.entrypoints import health
from passemarche.entrypoints.api import api_blueprints, create_api
from passemarche.entrypoints.api.auth import enforce_principal, resolve_principal
from passemarche.entrypoints.api.body import preload_json_body
from passemarche.entrypoints.api.oauth.server import EditorAuthorizationServer
from passemarche.entrypoints.api.rate_limits import apply_limits, create_limiter
from passemarche.entrypoints.bootstrap import Container, bootstrap
from passemarche.entrypoints.errors import JSON_MIMETYPE, register_error_handlers
from passemarche.entrypoints.observability import configure_logging, install_request_logging
from passemarche.entrypoints.web import register_web
from passemarche.services import webhooks
from sqlalchemy.exc import SQLAlchemyError
from werkzeug.middleware.proxy_fix import ProxyFix


def create_app(config: Config | None = None, container: Container | None = None) -> Flask:
    if container is None:
        container = bootstrap(config or Config.from_env())
    config = container.config
    configure_logging(config.log_level)

    app = Flask(__name__)
    app.config.update(
        SECRET_KEY=config.secret_key,
        MAX_CONTENT_LENGTH=config.max_json_body_bytes,
        API_TITLE="Passe Marché",
        API_VERSION="v1",
        OPENAPI_VERSION="3.0.3",
        OPENAPI_URL_PREFIX="/api/v1",
        OPENAPI_JSON_PATH="openapi.json",
        JSON_SORT_KEYS=False,
    )
    app.json.sort_keys = False  # type: ignore[attr-defined]
    app.json.ensure_ascii = False  # type: ignore[attr-defined]
    app.json.mimetype = JSON_MIMETYPE  # type: ignore[attr-defined]
    if config.trust_proxy_headers:
        app.wsgi_app = ProxyFix(app.wsgi_app, x_proto=1, x_host=1, x_for=1)  # type: ignore[method-assign]
    app.extensions["passemarche"] = container

    install_request_logging(app)
    # Order matters: identify the editor, then count the request, then refuse it if need be.
    app.before_request(resolve_principal)
    limiter = create_limiter(app, config)
    app.before_request(enforce_principal)
    app.before_request(preload_json_body)

    blueprints = api_blueprints()
    create_api(app, blueprints)
    apply_limits(limiter, config, blueprints)
    app.extensions["passemarche_oauth"] = EditorAuthorizationServer(app, container)
    app.register_blueprint(health.blp)
    register_error_handlers(app)
    register_web(app)
    if isinstance(container.jobs, InProcessJobQueue) and config.environment != "test":
        # The in-process queue keeps nothing across restarts: pick up where the last run stopped.
        # A database that is down must not keep the server (and its /up answer) from starting.
        try:
            webhooks.resume_unfinished(container.uow(), container.clock, container.jobs)
        except SQLAlchemyError:
            logging.getLogger("passemarche.jobs").exception("could not resume deliveries")
    return app
