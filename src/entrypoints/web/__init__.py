"""Server-rendered pages (French, DSFR): the buyer's configuration and, later, the candidate's
application.

`register_web(app)` (called once by `create_app`) wires what every page relies on: the templates
folder and Jinja settings (autoescape everywhere, `field_id` filter), the DSFR assets
(`assets.py`), CSRF, the session cookie and the security headers (`security.py`), then the page
blueprints of `_page_blueprints()`. Capability links are checked by `capabilities.py`. Templates
extend `base.html` and import `macros.html` (their headers list the blocks and the macros).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from flask import Blueprint, Flask
from passemarche.entrypoints.web.assets import (
    DsfrAssets,
    dsfr_directory,
    load_assets,
    register_assets,
)
from passemarche.entrypoints.web.labels import typography
from passemarche.entrypoints.web.security import register_security
from passemarche.entrypoints.web.uploads import PasseMarcheRequest

# The templates folder (web/templates) for the whole application, and web/static for the pages'
# own files (a stylesheet: inline styles are refused), at /static/web/<file>.
templates = Blueprint(
    "web",
    __name__,
    template_folder="templates",
    static_folder="static",
    static_url_path="/static/web",
)


@dataclass(frozen=True)
class WebState:
    assets: DsfrAssets


def field_id(name: str) -> str:
    """An HTML id from a form field name (`selected_attribute_keys[]` → `selected_attribute_keys`),
    so that the error summary's links and the fields agree."""
    return re.sub(r"[^A-Za-z0-9_-]+", "-", name.replace("[]", "")).strip("-") or "field"


def _page_blueprints() -> list[Blueprint]:
    """The page areas, registered after the foundation: add the buyer's (and later the
    candidate's) blueprint here, imported inside this function."""
    from passemarche.entrypoints.web.buyer.routes import blp as buyer
    from passemarche.entrypoints.web.candidate.routes import blp as candidate

    return [buyer, candidate]


def register_web(app: Flask) -> None:
    config = app.extensions["passemarche"].config
    assets = load_assets(dsfr_directory(config))
    app.extensions["passemarche_web"] = WebState(assets=assets)

    app.request_class = PasseMarcheRequest  # uploads stream to disk, candidate pages only
    env = app.jinja_env
    env.autoescape = True  # every template, whatever its name
    env.trim_blocks = True
    env.lstrip_blocks = True
    env.filters["field_id"] = field_id
    env.filters["typo"] = typography
    app.register_blueprint(templates)

    register_assets(app, assets)
    register_security(app)
    for blueprint in _page_blueprints():
        app.register_blueprint(blueprint)
