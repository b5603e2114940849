"""The sandbox editor: a tiny procurement platform for demos and tests.

It receives Passe Marché's webhooks on `POST /webhooks` and verifies them with this package's
helper (a genuine one is answered 200 and listed, its id marked processed once stored; a replay
of a processed one is answered 200 and not listed again;
a forged or stale one is answered 401 and listed as refused), lists them on `/` (and as JSON on
`/api/webhooks`), and — when API credentials are configured — creates markets and applications
through the client, with links to continue the buyer's and the candidate's pages and to download
the documents. `/buyer` and `/candidate` are the return URLs the pages send people back to.
"""

from __future__ import annotations

import secrets
import shutil
import tempfile
import threading
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from flask import Flask, abort, jsonify, redirect, render_template_string, request, session
from flask.typing import ResponseReturnValue

from passemarche_client.client import PasseMarcheClient
from passemarche_client.errors import ApiError, PasseMarcheError
from passemarche_client.sandbox_editor.pages import HOME, RETURN
from passemarche_client.webhooks import (
    ReplayedWebhook,
    ReplayGuard,
    WebhookVerificationError,
    verify_webhook,
)


@dataclass(frozen=True)
class EditorSettings:
    webhook_secret: str = field(repr=False)
    base_url: str | None = None  # the Passe Marché service, for the API calls
    client_id: str | None = None
    client_secret: str | None = field(default=None, repr=False)
    name: str = "Éditeur bac à sable"

    @property
    def can_call_api(self) -> bool:
        return bool(self.base_url and self.client_id and self.client_secret)


@dataclass
class ReceivedWebhook:
    received_at: str
    verified: bool
    event: str | None
    webhook_id: str | None
    reason: str | None
    payload: dict[str, Any] | None

    def as_json(self) -> dict[str, Any]:
        return {
            "received_at": self.received_at,
            "verified": self.verified,
            "event": self.event,
            "webhook_id": self.webhook_id,
            "reason": self.reason,
            "payload": self.payload,
        }


@dataclass
class EditorState:
    webhooks: list[ReceivedWebhook] = field(default_factory=list)
    markets: dict[str, str] = field(default_factory=dict)  # identifier → configuration_url
    applications: dict[str, tuple[str, str]] = field(default_factory=dict)  # id → (market, url)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def record(self, webhook: ReceivedWebhook) -> None:
        with self.lock:
            self.webhooks.append(webhook)


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def create_app(settings: EditorSettings) -> Flask:
    app = Flask(__name__)
    app.config.update(SECRET_KEY=secrets.token_hex(32), SESSION_COOKIE_SAMESITE="Lax")
    state = EditorState()
    guard = ReplayGuard()
    client = (
        PasseMarcheClient(
            settings.base_url or "", settings.client_id or "", settings.client_secret or ""
        )
        if settings.can_call_api
        else None
    )
    app.extensions["sandbox_editor"] = state

    def csrf_token() -> str:
        if "csrf" not in session:
            session["csrf"] = secrets.token_urlsafe(24)
        return str(session["csrf"])

    @app.before_request
    def check_csrf() -> None:
        if request.method == "POST" and request.path != "/webhooks":
            sent = request.form.get("csrf_token", "")
            if not sent or not secrets.compare_digest(sent, session.get("csrf", "")):
                abort(400)

    @app.after_request
    def headers(response: Any) -> Any:
        response.headers.setdefault("X-Content-Type-Options", "nosniff")
        response.headers.setdefault("Cache-Control", "no-store")
        return response

    @app.post("/webhooks")
    def receive() -> ResponseReturnValue:
        body = request.get_data(cache=False)
        try:
            event = verify_webhook(
                settings.webhook_secret, dict(request.headers), body, replay_guard=guard
            )
        except ReplayedWebhook:
            return jsonify(status="duplicate"), 200  # acknowledged, so that it is not sent again
        except WebhookVerificationError as error:
            state.record(
                ReceivedWebhook(
                    _now(), False, None, request.headers.get("webhook-id"), error.reason, None
                )
            )
            return jsonify(error=error.reason), 401
        state.record(
            ReceivedWebhook(_now(), True, event.event, event.webhook_id, None, event.payload)
        )
        # Only now that it is stored: had storing failed (a 500), the retry would be processed.
        if event.webhook_id is not None:
            guard.mark_processed(event.webhook_id)
        return jsonify(status="received"), 200

    @app.get("/api/webhooks")
    def list_webhooks() -> ResponseReturnValue:
        with state.lock:
            return jsonify(webhooks=[w.as_json() for w in state.webhooks])

    @app.get("/up")
    def up() -> ResponseReturnValue:
        return jsonify(status="ok")

    @app.get("/")
    def home() -> ResponseReturnValue:
        with state.lock:
            webhooks = list(reversed(state.webhooks))
            markets = dict(state.markets)
            applications = dict(state.applications)
        completed_markets = {
            w.payload["market"]["identifier"]
            for w in webhooks
            if w.verified and w.event == "market.completed" and w.payload
        }
        completed_applications = {
            w.payload["market_application"]["identifier"]
            for w in webhooks
            if w.verified and w.event == "market_application.completed" and w.payload
        }
        return render_template_string(
            HOME,
            settings=settings,
            webhooks=webhooks,
            markets=markets,
            applications=applications,
            completed_markets=completed_markets,
            completed_applications=completed_applications,
            csrf_token=csrf_token(),
            message=session.pop("message", None),
            default_deadline=(datetime.now(UTC) + timedelta(days=60)).strftime(
                "%Y-%m-%dT23:59:59Z"
            ),
        )

    @app.post("/markets")
    def create_market() -> ResponseReturnValue:
        if client is None:
            abort(404)
        try:
            created = client.create_market(
                name=request.form.get("name", "").strip(),
                deadline=request.form.get("deadline", "").strip(),
                siret=request.form.get("siret", "").strip(),
                market_type_codes=request.form.getlist("market_type_codes"),
                lot_name=request.form.get("lot_name", "").strip() or None,
            )
        except PasseMarcheError as error:
            session["message"] = _failure_message(error)
            return redirect("/", code=303)
        with state.lock:
            state.markets[created.identifier] = created.configuration_url
        session["message"] = f"Marché {created.identifier} créé."
        return redirect("/", code=303)

    @app.post("/markets/<identifier>/applications")
    def create_application(identifier: str) -> ResponseReturnValue:
        if client is None:
            abort(404)
        try:
            created = client.create_application(
                identifier, siret=request.form.get("siret", "").strip() or None
            )
        except PasseMarcheError as error:
            session["message"] = _failure_message(error)
            return redirect("/", code=303)
        with state.lock:
            state.applications[created.identifier] = (identifier, created.application_url)
        session["message"] = f"Candidature {created.identifier} créée."
        return redirect("/", code=303)

    @app.get("/applications/<identifier>/<kind>")
    def download(identifier: str, kind: str) -> ResponseReturnValue:
        from flask import send_file

        if client is None or kind not in ("attestation", "documents_package"):
            abort(404)
        folder = Path(tempfile.mkdtemp(prefix="sandbox-editor-"))
        try:
            if kind == "attestation":
                saved = client.download_attestation(identifier, folder)
            else:
                saved = client.download_documents_package(identifier, folder)
        except PasseMarcheError as error:
            shutil.rmtree(folder, ignore_errors=True)
            return render_template_string(
                RETURN, title="Téléchargement impossible", lines=[str(error)]
            ), 502
        response = send_file(
            saved.path,
            mimetype=saved.content_type,
            as_attachment=True,
            download_name=saved.path.name,
        )
        response.call_on_close(lambda: shutil.rmtree(folder, ignore_errors=True))
        return response

    @app.get("/buyer")
    def buyer_back() -> ResponseReturnValue:
        market = request.args.get("market_identifier", "")
        return render_template_string(
            RETURN,
            title="Retour de l’acheteur",
            lines=[f"L’acheteur a terminé la configuration du marché {market}."],
        )

    @app.get("/candidate")
    def candidate_back() -> ResponseReturnValue:
        application = request.args.get("application_identifier", "")
        return render_template_string(
            RETURN,
            title="Retour du candidat",
            lines=[f"Le candidat a transmis la candidature {application}."],
        )

    return app


def wait_for_webhook(
    app_state: EditorState, event: str, timeout: float, **match: str
) -> ReceivedWebhook:
    """For in-process use (tests): the first verified webhook `event` whose payload holds the
    `match` values (e.g. `market_identifier=…`), waiting up to `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        with app_state.lock:
            for webhook in app_state.webhooks:
                if webhook.verified and webhook.event == event and _matches(webhook, match):
                    return webhook
        if time.monotonic() >= deadline:
            raise TimeoutError(f"no verified {event} webhook within {timeout} s")
        time.sleep(0.1)


def _matches(webhook: ReceivedWebhook, match: dict[str, str]) -> bool:
    payload = webhook.payload or {}
    flat = {
        "market_identifier": payload.get("market_identifier")
        or (payload.get("market") or {}).get("identifier"),
        "application_identifier": (payload.get("market_application") or {}).get("identifier"),
    }
    return all(flat.get(key) == value for key, value in match.items())


def _failure_message(error: PasseMarcheError) -> str:
    """What the page says when a call to the service fails."""
    if isinstance(error, ApiError):
        return f"Refusé par l’API : {'; '.join(error.messages)}"
    return f"Le service n’a pas pu être joint : {error}"  # unreachable, or an unreadable answer
