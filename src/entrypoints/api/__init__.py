"""The editor REST API: the flask-smorest `Api`, its blueprints and request hooks."""

from __future__ import annotations

from typing import Any

from flask import Flask
from flask_smorest import Api
from passemarche.entrypoints.api.schemas import ErrorSchema


class PasseMarcheApi(Api):
    """flask-smorest, with the reference's error shape documented; the handling itself is
    registered by `entrypoints.errors` (one place for every error)."""

    ERROR_SCHEMA = ErrorSchema

    def _register_error_handlers(self) -> None:
        """Left to entrypoints.errors, so framework errors never use smorest's own shape."""


def api_blueprints() -> dict[str, Any]:
    """Every API blueprint by name: one place lists the resources."""
    from passemarche.entrypoints.api.applications.routes import blp as applications
    from passemarche.entrypoints.api.applications.routes import downloads
    from passemarche.entrypoints.api.markets.routes import blp as markets
    from passemarche.entrypoints.api.oauth.routes import blp as oauth

    return {
        "oauth": oauth,
        "markets": markets,
        "applications": applications,
        "downloads": downloads,
    }


def create_api(app: Flask, blueprints: dict[str, Any]) -> PasseMarcheApi:
    api = PasseMarcheApi(app, spec_kwargs=_spec_kwargs())
    for blueprint in blueprints.values():
        api.register_blueprint(blueprint)
    api.spec.components.security_scheme(
        "bearer", {"type": "http", "scheme": "bearer", "description": "POST /oauth/token"}
    )
    return api


def _spec_kwargs() -> dict[str, Any]:
    return {
        "info": {
            "description": "API Passe Marché pour les plateformes de marchés publics (éditeurs).",
        },
        "security": [{"bearer": []}],
    }
