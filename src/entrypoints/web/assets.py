"""The DSFR (the French State's design system), served from its npm package's `dist/` directory.

`npm ci` (the Makefile's `assets` target) installs `@gouvfr/dsfr` into `node_modules/`; nothing of
it is copied into the repository. Only an allow-list of files is served, under
`/static/dsfr/<version>/<file>`:

- the stylesheet and the two scripts the pages load (`dsfr.min.css`, `dsfr.module.min.js`,
  `dsfr.nomodule.min.js`);
- the favicon files and the Marianne/Spectral fonts;
- the icons the stylesheet itself refers to (alerts, badges, select arrows…), read from the
  stylesheet once at start-up so that no component asks for a file this module refuses, plus
  `EXTRA_ICONS`, the ones a page uses on its own (through a `fr-icon-*` class of its own CSS).

The version in the path lets every file be cached for a year: an upgrade changes the URLs. The
stylesheet refers to fonts and icons by relative URLs, so they carry the version too. Anything
else, including `../` tricks, is a 404. The directory is `Config.dsfr_dir` (env `DSFR_DIR`) when
set, else `<repository>/node_modules/@gouvfr/dsfr/dist`; when it is missing the pages are served
unstyled (they work without CSS and JavaScript) and a warning is logged once.
"""

from __future__ import annotations

import json
import logging
import re
from dataclasses import dataclass
from pathlib import Path

from flask import Blueprint, Flask, abort, current_app, send_from_directory, url_for
from flask.typing import ResponseReturnValue

log = logging.getLogger("passemarche.web.assets")

URL_PREFIX = "/static/dsfr"
ONE_YEAR = 365 * 24 * 3600
# `src/` is the package `passemarche`; the repository root is its parent.
DEFAULT_DSFR_DIR = (
    Path(__file__).resolve().parents[3] / "node_modules" / "@gouvfr" / "dsfr" / "dist"
)

STYLESHEETS = ("dsfr.min.css",)
SCRIPTS = ("dsfr.module.min.js", "dsfr.nomodule.min.js")
FAVICONS = (
    "favicon/favicon.svg",
    "favicon/favicon.ico",
    "favicon/apple-touch-icon.png",
    "favicon/manifest.webmanifest",
    "favicon/android-chrome-192x192.png",
    "favicon/android-chrome-512x512.png",
)
# Icons used by the pages beyond those the stylesheet refers to (paths under dist/).
EXTRA_ICONS: tuple[str, ...] = ()

_MIMETYPES = {
    ".css": "text/css",
    ".js": "text/javascript",
    ".svg": "image/svg+xml",
    ".woff2": "font/woff2",
    ".woff": "font/woff",
    ".png": "image/png",
    ".ico": "image/x-icon",
    ".webmanifest": "application/manifest+json",
}
# `url(fonts/Marianne-Bold.woff2)`, `url("icons/system/close-line.svg")`: relative files only.
_CSS_URL = re.compile(r"""url\(\s*["']?(?P<path>(?:fonts|icons)/[A-Za-z0-9_./-]+)["']?\s*\)""")

blp = Blueprint("dsfr", __name__, url_prefix=URL_PREFIX)


@dataclass(frozen=True)
class DsfrAssets:
    directory: Path
    version: str
    files: frozenset[str]

    @property
    def installed(self) -> bool:
        return bool(self.files)


def dsfr_directory(config: object) -> Path:
    """`Config.dsfr_dir` when the configuration has it (env `DSFR_DIR`), else the default."""
    configured = getattr(config, "dsfr_dir", None)
    return Path(configured) if configured else DEFAULT_DSFR_DIR


def load_assets(directory: Path) -> DsfrAssets:
    stylesheet = directory / STYLESHEETS[0]
    if not stylesheet.is_file():
        log.warning(
            "DSFR not found: pages are served unstyled (run `make assets`)",
            extra={"fields": {"dsfr_dir": str(directory)}},
        )
        return DsfrAssets(directory, "absent", frozenset())
    referenced = {
        match.group("path")
        for name in STYLESHEETS
        for match in _CSS_URL.finditer((directory / name).read_text(encoding="utf-8"))
    }
    listed = {*STYLESHEETS, *SCRIPTS, *FAVICONS, *EXTRA_ICONS, *referenced}
    files = frozenset(
        name for name in listed if ".." not in name.split("/") and (directory / name).is_file()
    )
    return DsfrAssets(directory, _version(directory), files)


def _version(directory: Path) -> str:
    manifest = directory.parent / "package.json"
    try:
        version = str(json.loads(manifest.read_text(encoding="utf-8"))["version"])
    except (OSError, ValueError, KeyError):
        return "unknown"
    return version if re.fullmatch(r"[0-9A-Za-z.+-]+", version) else "unknown"


def current_assets() -> DsfrAssets:
    return current_app.extensions["passemarche_web"].assets  # type: ignore[no-any-return]


def dsfr_url(filename: str) -> str:
    """The URL of a DSFR file (a Jinja global: `{{ dsfr_url("dsfr.min.css") }}`)."""
    return url_for("dsfr.asset", version=current_assets().version, filename=filename)


@blp.get("/<version>/<path:filename>")
def asset(version: str, filename: str) -> ResponseReturnValue:
    assets = current_assets()
    if version != assets.version or filename not in assets.files:
        abort(404)
    response = send_from_directory(
        assets.directory,
        filename,
        mimetype=_MIMETYPES.get(Path(filename).suffix),
        max_age=ONE_YEAR,
        conditional=True,
    )
    response.cache_control.public = True
    response.cache_control.immutable = True
    return response


def register_assets(app: Flask, assets: DsfrAssets) -> None:
    app.register_blueprint(blp)
    app.jinja_env.globals["dsfr_url"] = dsfr_url
    app.jinja_env.globals["dsfr_installed"] = assets.installed
