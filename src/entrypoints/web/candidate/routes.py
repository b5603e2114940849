"""The candidate's pages: identification → lots (when the market has lots) → one step per
category of the market's attributes → declaration on honour → summary → submit → confirmation.
Opened through the capability link of `application_url`; every step saves at once."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from flask import (
    Blueprint,
    Response,
    abort,
    current_app,
    flash,
    redirect,
    render_template,
    request,
    url_for,
)
from flask.typing import ResponseReturnValue
from passemarche.domain.application import DocumentKind, document_storage_key
from passemarche.domain.editor import build_return_url
from passemarche.domain.errors import DomainError, NotFound, ValidationFailed
from passemarche.domain.inputs import parse_answer
from passemarche.domain.magic_link import MagicLinkInvalid
from passemarche.domain.uploads import UploadRejected
from passemarche.entrypoints.web import labels
from passemarche.entrypoints.web.capabilities import (
    grant_capability,
    open_capability,
    require_capability,
)
from passemarche.services import candidate_access, prefill, submission
from passemarche.services import candidate_application as candidate
from passemarche.services.candidate_application import (
    ApplicationAlreadySubmitted,
    CandidateApplication,
    CandidateStep,
)
from passemarche.services.ports import MailNotSent
from werkzeug.wsgi import wrap_file

PURPOSE = "candidate"
SCAN_LABELS = {
    "clean": "aucun virus détecté",
    "not_scanned": "non vérifié",
    "pending": "en cours",
    "failed": "échec : déposez le fichier à nouveau",
}

blp = Blueprint("candidate", __name__, url_prefix="/candidate/market_applications")


def _container() -> Any:
    return current_app.extensions["passemarche"]


def _load(identifier: str) -> CandidateApplication:
    require_capability(PURPOSE, identifier)
    try:
        return candidate.candidate_application(_container().uow(), identifier)
    except NotFound:
        abort(404)


def _url(identifier: str, step: CandidateStep | str) -> str:
    key = step.key if isinstance(step, CandidateStep) else step
    return url_for("candidate.step", identifier=identifier, step=key)


def _render(template: str, app: CandidateApplication, key: str, **context: Any) -> str:
    steps = app.steps()
    index = next(i for i, s in enumerate(steps) if s.key == key)
    return render_template(
        template,
        app=app,
        steps=steps,
        step=steps[index],
        step_number=index + 1,
        step_count=len(steps),
        previous_url=_url(app.identifier, steps[index - 1]) if index > 0 else None,
        labels=labels,
        scan_labels=SCAN_LABELS,
        **context,
    )


def _next(app: CandidateApplication, key: str) -> ResponseReturnValue:
    steps = app.steps()
    index = next(i for i, s in enumerate(steps) if s.key == key)
    following = steps[index + 1] if index + 1 < len(steps) else steps[-1]
    return redirect(_url(app.identifier, following))


@blp.route("/<identifier>/company_identification", methods=["GET"])
def entry(identifier: str) -> ResponseReturnValue:
    opened = open_capability(PURPOSE, identifier)
    if opened is not None:
        return opened
    return step(identifier, "company_identification")


@blp.route("/<identifier>/<step>", methods=["GET", "POST"])
def step(identifier: str, step: str) -> ResponseReturnValue:
    opened = open_capability(PURPOSE, identifier)
    if opened is not None:
        return opened
    app = _load(identifier)
    if step == "confirmation":
        return _confirmation(app)
    if app.is_completed:
        flash("Votre candidature a déjà été transmise.", "info")
        return redirect(_url(identifier, "confirmation"))
    if step not in {s.key for s in app.steps()}:
        abort(404)
    handler = {
        "company_identification": _identification,
        "lots": _lots,
        "prefill": _prefill,
        "declaration": _declaration,
        "summary": _summary,
    }.get(step, _category)
    try:
        return handler(app, step)
    except ApplicationAlreadySubmitted:
        flash("Votre candidature a déjà été transmise.", "info")
        return redirect(_url(identifier, "confirmation"))


def _identification(app: CandidateApplication, key: str) -> ResponseReturnValue:
    errors: dict[str, str] = {}
    values = {"siret": app.siret or "", "company_name": app.company_name or ""}
    if request.method == "POST":
        values = {
            "siret": app.siret or request.form.get("siret", "").strip(),
            "company_name": request.form.get("company_name", "").strip(),
        }
        if not values["siret"]:
            errors["siret"] = "Indiquez le numéro SIRET de votre entreprise (14 chiffres)."
        if not values["company_name"]:
            errors["company_name"] = "Indiquez la raison sociale de votre entreprise."
        if not errors:
            try:
                candidate.save_identification(
                    _container().uow(),
                    app.identifier,
                    None if app.siret_locked else values["siret"],
                    values["company_name"],
                )
                _start_prefill(app.identifier)  # the identity is confirmed: fetch its data
                return _next(app, key)
            except ValidationFailed as error:
                errors["siret"] = error.messages[0]
    html = _render("candidate/identification.html", app, key, errors=errors, values=values)
    return html, 422 if errors else 200


def _start_prefill(identifier: str) -> None:
    container = _container()
    prefill.start_prefill(
        container.uow(),
        container.clock,
        container.jobs,
        container.data_sources,
        identifier,
        timedelta(seconds=container.config.prefill_deadline_seconds),
    )


def _prefill(app: CandidateApplication, key: str) -> ResponseReturnValue:
    """The fetch's progress, source by source; « Continuer » once every source has ended (the
    global deadline guarantees it). Refreshes itself: by script, else a <noscript> refresh."""
    if app.siret is None:
        flash("Indiquez d’abord le SIRET de votre entreprise.", "info")
        return redirect(_url(app.identifier, "company_identification"))
    if not app.prefill:  # a SIRET given by the editor: started on the first visit
        _start_prefill(app.identifier)
    view = prefill.prefill_view(_container().uow(), _container().clock, app.identifier)
    if request.method == "POST" and view.finished:
        return _next(app, key)
    return _render("candidate/prefill.html", app, key, prefill=view, errors={})


@blp.route("/<identifier>/prefill/run_again", methods=["POST"])
def prefill_run_again(identifier: str) -> ResponseReturnValue:
    """« Relancer » a failed source from the status page."""
    require_capability(PURPOSE, identifier)
    container = _container()
    source = request.form.get("source", "")
    if prefill.run_source_again(
        container.uow(),
        container.clock,
        container.jobs,
        container.data_sources,
        identifier,
        source,
        timedelta(seconds=container.config.prefill_deadline_seconds),
    ):
        flash(f"Nouvelle tentative : {labels.source(source)}.", "info")
    else:
        flash("Cette source ne peut pas être interrogée à nouveau.", "warning")
    return redirect(_url(identifier, "prefill"), code=303)


@blp.route("/<identifier>/prefill/status", methods=["GET"])
def prefill_status(identifier: str) -> ResponseReturnValue:
    """The status page's polling endpoint (JSON)."""
    require_capability(PURPOSE, identifier)
    view = prefill.prefill_view(_container().uow(), _container().clock, identifier)
    return {
        "finished": view.finished,
        "sources": [
            {"source": s.source, "label": s.label, "status": s.status, "filled": s.filled}
            for s in view.sources
        ],
    }


def _lots(app: CandidateApplication, key: str) -> ResponseReturnValue:
    errors: dict[str, str] = {}
    chosen = set(app.lot_numbers)
    if request.method == "POST":
        chosen = {int(v) for v in request.form.getlist("lots") if v.isascii() and v.isdecimal()}
        try:
            candidate.save_lots(_container().uow(), app.identifier, sorted(chosen))
            return _next(app, key)
        except ValidationFailed as error:
            errors["lots"] = error.messages[0]
    html = _render("candidate/lots.html", app, key, errors=errors, chosen=chosen)
    return html, 422 if errors else 200


def _category(app: CandidateApplication, key: str) -> ResponseReturnValue:
    if app.has_prefill and not app.prefill and app.siret is not None:
        # The status page was skipped (an address typed by hand): the sources are still asked.
        _start_prefill(app.identifier)
        app = _load(app.identifier)
    attributes = app.attributes_of(key)
    errors: dict[str, str] = {}
    posted: dict[str, Any] = {}
    if request.method == "POST":
        container = _container()
        form = request.form.to_dict(flat=False)
        for attribute in attributes:
            if app.is_prefilled(attribute.key) and not app.may_explain(attribute):
                continue  # not editable: its inputs are not on the page
            for file in request.files.getlist(f"{attribute.key}.files"):
                if not file.filename:
                    continue
                try:
                    with container.uploads.accept(file) as upload:
                        candidate.attach_document(
                            container.uow(), container.clock, container.storage,
                            container.scanner, app.identifier, attribute.key, upload,
                        )  # fmt: skip
                except (
                    UploadRejected,
                    candidate.InfectedFile,
                    candidate.PrefilledAnswer,
                ) as refusal:
                    errors[f"{attribute.key}.files"] = f"{file.filename} : {refusal.message}"
        app = _load(app.identifier)  # the new files count for the answers below
        values: dict[str, dict[str, Any]] = {}
        for attribute in attributes:
            if app.may_explain(attribute):
                try:
                    candidate.save_explanation(
                        container.uow(), container.clock, app.identifier, attribute.key,
                        request.form.get(f"{attribute.key}.explanation", ""),
                    )  # fmt: skip
                except ValidationFailed as error:
                    errors[f"{attribute.key}.explanation"] = error.messages[0]
            if app.is_prefilled(attribute.key):
                if not app.may_explain(attribute) and _posted_for(form, attribute.key):
                    # Fetched while the candidate was typing: the source's value stands.
                    flash(
                        f"« {attribute.candidate_title.strip()} » vient d’être récupéré "
                        "automatiquement : cette valeur remplace ce que vous aviez saisi.",
                        "info",
                    )
                continue  # pre-filled from a data source: not editable
            parsed = parse_answer(
                attribute.input_type,
                attribute.key,
                form,
                required=True,
                files_count=len(app.documents_of(attribute.key)),
                today=_container().clock.now().date(),
            )
            for name, message in parsed.errors.items():
                errors.setdefault(name, message)  # a refused upload keeps its own reason
            if not parsed.errors:
                values[attribute.key] = parsed.value
                if parsed.drop_files:  # "non", or a box unticked: its documents go
                    for document in app.documents_of(attribute.key):
                        candidate.remove_document(
                            container.uow(), container.storage, app.identifier, document.id
                        )
        candidate.save_answers(_container().uow(), _container().clock, app.identifier, values)
        if not errors:
            return _next(app, key)
        app = _load(app.identifier)
        posted = form  # what the candidate typed, shown again next to the errors
    html = _render(
        "candidate/category.html", app, key, attributes=attributes, errors=errors, posted=posted
    )
    return html, 422 if errors else 200


def _posted_for(form: dict[str, list[str]], key: str) -> bool:
    """Whether the form carried a typed value for the attribute `key`."""
    return any(
        (name == key or name.startswith(key + ".")) and any(v.strip() for v in values)
        for name, values in form.items()
    )


def _declaration(app: CandidateApplication, key: str) -> ResponseReturnValue:
    errors: dict[str, str] = {}
    if request.method == "POST":
        accepted = request.form.get("accept") == "1"
        if not accepted:
            errors["accept"] = "Cochez la case pour faire votre déclaration sur l’honneur."
        else:
            container = _container()
            candidate.accept_declaration(container.uow(), container.clock, app.identifier, True)
            return _next(app, key)
    text = submission.declaration_text(app.market_is_defense)
    html = _render("candidate/declaration.html", app, key, errors=errors, declaration=text)
    return html, 422 if errors else 200


def _summary(app: CandidateApplication, key: str) -> ResponseReturnValue:
    errors: dict[str, str] = {}
    if request.method == "POST":
        container = _container()
        base_url = container.config.public_base_url or request.host_url.rstrip("/")
        try:
            submission.submit_application(
                container.uow(), container.clock, container.jobs, app.identifier, base_url
            )
            return redirect(_url(app.identifier, "confirmation"))
        except ValidationFailed as error:
            errors = {f"_{n}": message for n, message in enumerate(error.messages)}
        except DomainError as error:
            errors = {"_0": error.message}
    html = _render("candidate/summary.html", app, key, errors=errors)
    return html, 422 if errors else 200


def _confirmation(app: CandidateApplication) -> ResponseReturnValue:
    if not app.is_completed:
        return redirect(_url(app.identifier, "company_identification"))
    container = _container()
    available = container.storage.stat(
        document_storage_key(DocumentKind.ATTESTATION, app.identifier)
    )
    return_url = (
        build_return_url(
            app.candidate_return_url,
            market_identifier=app.market_identifier,
            application_identifier=app.identifier,
        )
        if app.candidate_return_url
        else None
    )
    return render_template(
        "candidate/confirmation.html",
        app=app,
        labels=labels,
        attestation_ready=available is not None,
        return_url=return_url,
    )


@blp.route("/<identifier>/attestation", methods=["GET"])
def attestation(identifier: str) -> ResponseReturnValue:
    """The candidate's own attestation, once generated."""
    require_capability(PURPOSE, identifier)
    storage = _container().storage
    stored = storage.stat(document_storage_key(DocumentKind.ATTESTATION, identifier))
    if stored is None:
        abort(404)
    response = Response(
        wrap_file(request.environ, storage.open(stored.key)),
        mimetype="application/pdf",
        direct_passthrough=True,
        headers={"Content-Disposition": f'attachment; filename="attestation_{identifier}.pdf"'},
    )
    response.content_length = stored.size
    return response


@blp.route("/<identifier>/documents/<document_id>/delete", methods=["POST"])
def delete_document(identifier: str, document_id: str) -> ResponseReturnValue:
    require_capability(PURPOSE, identifier)
    container = _container()
    try:
        candidate.remove_document(container.uow(), container.storage, identifier, document_id)
        flash("Le fichier a été supprimé.", "success")
    except NotFound:
        abort(404)
    except candidate.PrefilledDocument as refusal:
        flash(refusal.message, "error")
    except ApplicationAlreadySubmitted:
        flash("Votre candidature a déjà été transmise.", "info")
    # Back to the step the button was on (a step key, never a URL: no open redirect).
    back = request.form.get("step", "")
    steps = {s.key for s in _load(identifier).steps()}
    return redirect(_url(identifier, back if back in steps else "company_identification"))


@blp.route("/<identifier>/login", methods=["GET", "POST"])
def login(identifier: str) -> ResponseReturnValue:
    """Coming back later: a single-use link (30 minutes) sent to the application's contact
    email. The answer is the same whether or not a link was sent (no enumeration)."""
    errors: dict[str, str] = {}
    email = ""
    if request.method == "POST":
        email = request.form.get("email", "").strip()
        if "@" not in email:
            errors["email"] = "Indiquez l’adresse électronique donnée dans votre candidature."
        else:
            container = _container()
            verify_url = (
                container.config.public_base_url or request.host_url.rstrip("/")
            ) + url_for("candidate.verify", identifier=identifier)
            try:
                candidate_access.request_magic_link(
                    container.uow(),
                    container.clock,
                    container.mailer,
                    identifier,
                    email,
                    verify_url,
                )
            except MailNotSent:
                errors["email"] = (
                    "Le courriel n’a pas pu être envoyé : réessayez dans quelques minutes."
                )
            else:
                return render_template("candidate/link_sent.html", email=email)
    html = render_template(
        "candidate/login.html", identifier=identifier, errors=errors, email=email
    )
    return html, 422 if errors else 200


@blp.route("/<identifier>/verify", methods=["GET"])
def verify(identifier: str) -> ResponseReturnValue:
    token = request.args.get("token", "")
    container = _container()
    try:
        candidate_access.redeem_magic_link(container.uow(), container.clock, identifier, token)
    except MagicLinkInvalid as error:
        return render_template(
            "candidate/login.html", identifier=identifier, errors={"email": error.message}, email=""
        ), 403
    grant_capability(PURPOSE, identifier)
    return redirect(_url(identifier, "company_identification"), code=303)
