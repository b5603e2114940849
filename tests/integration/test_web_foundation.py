"""The foundation of every page: CSRF, session cookie, security headers, capability links, the
DSFR assets, the French error page and the form macros. Test-only routes stand in for pages."""

from __future__ import annotations

import re

import pytest
from flask import Blueprint, render_template_string, request
from passemarche.entrypoints.web.assets import load_assets
from passemarche.entrypoints.web.capabilities import BUYER, CANDIDATE, capability_required
from passemarche.entrypoints.web.security import CONTENT_SECURITY_POLICY

from tests.integration.conftest import make_config

MARKET = "VR-2026-AAAAAAAAAAAA"
OTHER_MARKET = "VR-2026-BBBBBBBBBBBB"
FORM = """{% import "macros.html" as macros %}
<form method="post">{{ macros.csrf_field() }}<button type="submit">Envoyer</button></form>"""


@pytest.fixture
def database_url(database_url_for):
    """Pages are independent of the database engine: SQLite is enough here."""
    return database_url_for("sqlite")


def add_test_pages(app):
    pages = Blueprint("test_pages", __name__)

    @pages.route("/essai/formulaire", methods=["GET", "POST"])
    def form():
        return "Formulaire reçu" if request.method == "POST" else render_template_string(FORM)

    @pages.route("/buyer/essai/<identifier>", methods=["GET", "POST"])
    @capability_required(BUYER)
    def market_page(identifier):
        return f"Enregistré {identifier}" if request.method == "POST" else f"Marché {identifier}"

    app.register_blueprint(pages)
    return app


@pytest.fixture
def pages(app):
    return add_test_pages(app).test_client()


def csrf_token_of(response):
    match = re.search(r'name="csrf_token" value="([^"]+)"', response.get_data(as_text=True))
    assert match, response.get_data(as_text=True)
    return match.group(1)


def link_token(container, identifier, purpose=BUYER):
    return container.signer.sign(purpose, identifier)


# --- CSRF -------------------------------------------------------------------------------------


def test_a_form_posted_without_the_csrf_token_is_refused_with_a_french_page(pages):
    pages.get("/essai/formulaire")
    response = pages.post("/essai/formulaire", data={"champ": "valeur"})
    assert response.status_code == 400
    assert response.mimetype == "text/html"
    page = response.get_data(as_text=True)
    assert "<title>Formulaire expiré – Passe Marché</title>" in page
    assert "votre session a peut-être expiré" in page


def test_a_wrong_or_foreign_csrf_token_is_refused(pages, app):
    pages.get("/essai/formulaire")
    assert pages.post("/essai/formulaire", data={"csrf_token": "faux"}).status_code == 400
    assert pages.post("/essai/formulaire", data={"csrf_token": "é" * 43}).status_code == 400
    someone_else = app.test_client()
    their_token = csrf_token_of(someone_else.get("/essai/formulaire"))
    assert pages.post("/essai/formulaire", data={"csrf_token": their_token}).status_code == 400


def test_the_sessions_csrf_token_is_accepted_in_the_form_or_the_header(pages):
    token = csrf_token_of(pages.get("/essai/formulaire"))
    response = pages.post("/essai/formulaire", data={"csrf_token": token})
    assert (response.status_code, response.get_data(as_text=True)) == (200, "Formulaire reçu")
    assert pages.post("/essai/formulaire", headers={"X-CSRF-Token": token}).status_code == 200
    # The token stays the same for the session: several tabs, back button.
    assert csrf_token_of(pages.get("/essai/formulaire")) == token


def test_the_api_and_oauth_are_not_subject_to_csrf(pages, editor):
    assert editor.request_token().status_code == 200
    assert editor.create_market().status_code == 201


def test_a_post_to_no_page_is_a_404_not_a_csrf_refusal(pages):
    response = pages.post("/buyer/nulle-part", data={})
    assert response.status_code == 404
    assert "Page introuvable" in response.get_data(as_text=True)


# --- Session cookie and headers ---------------------------------------------------------------


def test_the_session_cookie_is_httponly_lax_and_expires(pages):
    cookie = pages.get("/essai/formulaire").headers["Set-Cookie"]
    assert cookie.startswith("passemarche=")
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie and "Path=/" in cookie
    assert "Expires=" in cookie
    assert "Secure" not in cookie  # development and tests run on plain HTTP


def test_pages_carry_the_security_headers(pages):
    response = pages.get("/essai/formulaire")
    assert response.headers["Content-Security-Policy"] == CONTENT_SECURITY_POLICY
    for directive in (
        "default-src 'self'",
        "script-src 'self'",
        "style-src 'self'",
        "img-src 'self' data:",
        "font-src 'self'",
        "frame-ancestors 'none'",
        "form-action 'self'",
        "base-uri 'self'",
    ):
        assert directive in CONTENT_SECURITY_POLICY.split("; ")
    assert "unsafe-inline" not in CONTENT_SECURITY_POLICY
    assert response.headers["X-Frame-Options"] == "DENY"
    assert response.headers["Referrer-Policy"] == "same-origin"
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["Cache-Control"] == "no-store"
    assert "Strict-Transport-Security" not in response.headers


def test_error_pages_carry_them_too(pages):
    response = pages.get("/buyer/nulle-part")
    assert response.status_code == 404
    assert response.headers["Content-Security-Policy"] == CONTENT_SECURITY_POLICY
    assert response.headers["Cache-Control"] == "no-store"


def test_api_json_responses_are_unchanged(client, editor):
    response = editor.get(f"/api/v1/public_markets/{MARKET}")
    assert (response.status_code, response.get_json()) == (404, {"error": "Resource not found"})
    assert response.headers["Content-Type"] == "application/json; charset=utf-8"
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    for page_only in ("Content-Security-Policy", "X-Frame-Options", "Set-Cookie"):
        assert page_only not in response.headers
    assert response.headers.get("Cache-Control") != "no-store"
    health = client.get("/up")
    assert (health.status_code, health.get_json()) == (200, {"status": "ok"})
    assert "Content-Security-Policy" not in health.headers


def test_in_production_the_cookie_is_secure_and_hsts_is_sent(database_url, tmp_path):
    from passemarche.entrypoints.app import create_app

    app = create_app(make_config(database_url, tmp_path, environment="production"))
    client = add_test_pages(app).test_client()
    response = client.get("/essai/formulaire", base_url="https://passemarche.example")
    cookie = response.headers["Set-Cookie"]
    assert cookie.startswith("__Host-passemarche=")
    assert "Secure" in cookie and "HttpOnly" in cookie and "SameSite=Lax" in cookie
    assert response.headers["Strict-Transport-Security"].startswith("max-age=")
    api = client.get("/up", base_url="https://passemarche.example")
    assert api.headers["Strict-Transport-Security"].startswith("max-age=")
    app.extensions["passemarche"].engine.dispose()


# --- Capability links -------------------------------------------------------------------------


def test_a_valid_link_grants_the_market_and_drops_the_token_from_the_address(pages, container):
    token = link_token(container, MARKET)
    response = pages.get(f"/buyer/essai/{MARKET}?etape=2&token={token}")
    assert response.status_code == 303
    location = response.headers["Location"]
    assert location == f"/buyer/essai/{MARKET}?etape=2"
    assert token not in location
    assert response.headers["Cache-Control"] == "no-store"

    followed = pages.get(location)
    assert (followed.status_code, followed.get_data(as_text=True)) == (200, f"Marché {MARKET}")
    with pages.session_transaction() as session:
        assert session["grants"] == [f"buyer:{MARKET}"]


def test_the_grant_is_for_that_market_only(pages, container):
    pages.get(f"/buyer/essai/{MARKET}?token={link_token(container, MARKET)}")
    response = pages.get(f"/buyer/essai/{OTHER_MARKET}")
    assert response.status_code == 403
    assert "Accès non autorisé" in response.get_data(as_text=True)


@pytest.mark.parametrize(
    "token",
    ["faux", "", "é", "signature-of-another-market", "candidate-token"],
)
def test_a_wrong_token_is_the_french_invalid_link_page(pages, container, token):
    if token == "signature-of-another-market":
        token = link_token(container, OTHER_MARKET)
    elif token == "candidate-token":
        token = link_token(container, MARKET, CANDIDATE)
    response = pages.get(f"/buyer/essai/{MARKET}", query_string={"token": token})
    assert response.status_code == 403
    page = response.get_data(as_text=True)
    assert "<title>Lien invalide ou expiré – Passe Marché</title>" in page
    assert "<h1>Lien invalide ou expiré</h1>" in page
    assert response.headers["Referrer-Policy"] == "same-origin"
    with pages.session_transaction() as session:
        assert "grants" not in session


def test_without_a_grant_the_page_says_to_use_the_platforms_link(pages):
    response = pages.get(f"/buyer/essai/{MARKET}")
    assert response.status_code == 403
    page = response.get_data(as_text=True)
    assert "Accès non autorisé" in page
    assert "utilisez le lien reçu depuis votre plateforme" in page


def test_forms_of_a_granted_market_still_need_the_csrf_token(pages, container):
    pages.get(f"/buyer/essai/{MARKET}?token={link_token(container, MARKET)}")
    token = csrf_token_of(pages.get("/essai/formulaire"))
    assert pages.post(f"/buyer/essai/{MARKET}", data={}).status_code == 400
    response = pages.post(f"/buyer/essai/{MARKET}", data={"csrf_token": token})
    assert (response.status_code, response.get_data(as_text=True)) == (200, f"Enregistré {MARKET}")


def test_a_post_cannot_open_a_capability(pages, container):
    token = csrf_token_of(pages.get("/essai/formulaire"))
    response = pages.post(
        f"/buyer/essai/{MARKET}?token={link_token(container, MARKET)}", data={"csrf_token": token}
    )
    assert response.status_code == 403


# --- DSFR assets ------------------------------------------------------------------------------


@pytest.fixture
def dsfr(app):
    assets = app.extensions["passemarche_web"].assets
    if not assets.installed:
        pytest.skip(f"DSFR not installed in {assets.directory} (make assets)")
    return assets


def test_dsfr_files_are_served_with_a_long_cache(pages, dsfr):
    for filename, mimetype in (
        ("dsfr.min.css", "text/css"),
        ("dsfr.module.min.js", "text/javascript"),
        ("fonts/Marianne-Regular.woff2", "font/woff2"),
        ("icons/system/close-line.svg", "image/svg+xml"),  # referred to by the stylesheet
        ("favicon/favicon.svg", "image/svg+xml"),
    ):
        response = pages.get(f"/static/dsfr/{dsfr.version}/{filename}")
        assert response.status_code == 200, filename
        assert response.mimetype == mimetype
        assert "max-age=31536000" in response.headers["Cache-Control"]
        assert "immutable" in response.headers["Cache-Control"]
        assert response.headers["X-Content-Type-Options"] == "nosniff"


def test_the_pages_link_the_versioned_stylesheet_and_scripts(pages, dsfr):
    page = pages.get("/buyer/nulle-part").get_data(as_text=True)
    assert f'href="/static/dsfr/{dsfr.version}/dsfr.min.css"' in page
    assert f'<script type="module" src="/static/dsfr/{dsfr.version}/dsfr.module.min.js">' in page


@pytest.mark.parametrize(
    "path",
    [
        "{v}/../package.json",
        "{v}/..%2Fpackage.json",
        "{v}/icons/system/../../../package.json",
        "{v}/%2e%2e/%2e%2e/%2e%2e/package.json",
        "{v}//etc/passwd",
        "{v}/dsfr.css",  # in dist/, not on the list
        "{v}/dsfr.min.css.map",
        "{v}/utility/icons/icons.min.css",
        "{v}/icons/others/lightbulb-line.svg",  # an icon nothing uses
        "0.0.0/dsfr.min.css",  # another version
        "dsfr.min.css",
    ],
)
def test_anything_else_is_a_404(pages, dsfr, path):
    response = pages.get("/static/dsfr/" + path.format(v=dsfr.version))
    assert response.status_code == 404
    assert b"@font-face" not in response.data and b'"version"' not in response.data


def test_without_the_dsfr_nothing_is_served_and_pages_stay_usable(tmp_path):
    assets = load_assets(tmp_path)
    assert (assets.installed, assets.files) == (False, frozenset())


# --- Error page and layout --------------------------------------------------------------------


def test_the_error_page_is_the_dsfr_layout_in_french(pages):
    response = pages.get("/buyer/nulle-part")
    page = response.get_data(as_text=True)
    assert response.status_code == 404
    assert '<html lang="fr"' in page
    assert "<title>Page introuvable – Passe Marché</title>" in page
    assert 'href="#contenu">Aller au contenu</a>' in page
    assert '<main role="main" id="contenu"' in page
    assert 'class="fr-alert fr-alert--warning' in page
    assert "République<br>Française" in page


def test_no_inline_script_or_style_in_the_layout(pages):
    page = pages.get("/buyer/nulle-part").get_data(as_text=True)
    assert not re.search(r"<script(?![^>]*\ssrc=)[^>]*>", page)
    assert "<style" not in page and " style=" not in page
    assert not re.search(r"\son[a-z]+=", page)  # no inline event handlers


def test_the_error_page_still_works_without_the_templates(app, client):
    del app.extensions["passemarche_web"]
    response = client.get("/buyer/nulle-part")
    assert response.status_code == 404
    assert "<title>Page introuvable – Passe Marché</title>" in response.get_data(as_text=True)


# --- Macros -----------------------------------------------------------------------------------


def render(app, source, **context):
    with app.test_request_context("/"):
        return render_template_string('{% import "macros.html" as macros %}' + source, **context)


def test_an_input_has_its_label_hint_and_error_tied_to_it(app):
    html = render(
        app,
        '{{ macros.input("lot_limit", "Nombre maximum de lots", value=3, hint="Entre 1 et 4",'
        ' error=error, attrs={"inputmode": "numeric"}) }}',
        error="Veuillez indiquer le nombre maximum de lots.",
    )
    assert '<label class="fr-label" for="lot_limit">' in html
    assert '<span class="fr-hint-text">Entre 1 et 4</span>' in html
    assert 'id="lot_limit" name="lot_limit" value="3" aria-describedby="lot_limit-messages"' in html
    assert 'aria-invalid="true"' in html and 'inputmode="numeric"' in html
    assert 'class="fr-input-group fr-input-group--error"' in html
    assert re.search(
        r'id="lot_limit-messages"[^>]*>\s*<p class="fr-message fr-message--error" '
        r'id="lot_limit-message-error">Veuillez indiquer le nombre maximum de lots.</p>',
        html,
    )


def test_a_field_without_error_is_not_marked_invalid(app):
    html = render(app, '{{ macros.input("nom", "Nom") }}')
    assert "aria-invalid" not in html and "fr-message--error" not in html
    assert 'aria-describedby="nom-messages"' in html


def test_labels_and_messages_are_escaped(app):
    html = render(app, '{{ macros.input("x", label, error=label) }}', label="<script>x</script>")
    assert "<script>" not in html and "&lt;script&gt;" in html


def test_the_error_summary_links_each_message_to_its_field(app):
    errors = {
        "lot_limit": "Veuillez indiquer le nombre maximum de lots.",
        "selected_attribute_keys[]": ["Cochez au moins une case."],
        "_form": "Le marché a changé entre-temps.",
    }
    html = render(app, "{{ macros.error_summary(errors) }}", errors=errors)
    assert 'role="alert"' in html
    assert "Le formulaire contient 3 erreurs" in html
    assert '<a href="#lot_limit">Veuillez indiquer le nombre maximum de lots.</a>' in html
    assert '<a href="#selected_attribute_keys">Cochez au moins une case.</a>' in html
    assert "<li>Le marché a changé entre-temps.</li>" in html
    assert render(app, "{{ macros.error_summary({}) }}").strip() == ""


def test_a_radio_group_is_a_fieldset_whose_first_option_takes_the_fields_id(app):
    html = render(
        app,
        '{{ macros.radios("lot_limit_enabled", "Souhaitez-vous limiter le nombre de lots ?",'
        ' [("true", "Oui"), ("false", "Non")], selected="false", error="Choisissez une réponse.",'
        " inline=true) }}",
    )
    assert (
        '<fieldset class="fr-fieldset fr-fieldset--error" id="lot_limit_enabled-fieldset" '
        'aria-labelledby="lot_limit_enabled-legend lot_limit_enabled-messages">'
    ) in html
    assert 'type="radio" id="lot_limit_enabled" name="lot_limit_enabled" value="true"' in html
    assert re.search(
        r'id="lot_limit_enabled-2" name="lot_limit_enabled" value="false" checked', html
    )
    assert '<label class="fr-label" for="lot_limit_enabled-2">' in html
    assert "fr-fieldset__element--inline" in html
    assert "Choisissez une réponse." in html


def test_a_checkbox_group_checks_the_given_values_and_shows_badges(app):
    options = [
        {"value": "chiffre_affaires", "label": "Chiffre d’affaires", "hint": "Trois ans"},
        {
            "value": "effectifs",
            "label": "Effectifs",
            "badge": "Récupéré automatiquement",
            "badge_kind": "success",
        },
        {"value": "assurance", "label": "Assurance", "disabled": True},
    ]
    html = render(
        app,
        '{{ macros.checkboxes("selected_attribute_keys[]", "Renseignements", options,'
        ' checked=["effectifs"]) }}',
        options=options,
    )
    assert 'id="selected_attribute_keys" name="selected_attribute_keys[]"' in html
    assert re.search(r'value="effectifs" checked', html)
    assert not re.search(r'value="chiffre_affaires"[^>]*checked', html)
    assert re.search(r'value="assurance" disabled', html)
    assert (
        '<span class="fr-badge fr-badge--success fr-badge--sm fr-ml-1w">Récupéré automatiquement'
        in html
    )
    assert '<span class="fr-hint-text">Trois ans</span>' in html


def test_a_single_checkbox_badge_and_stepper(app):
    html = render(
        app,
        '{{ macros.checkbox("defense", "Marché de défense ou de sécurité", checked=true) }}'
        '{{ macros.badge("Déclaré par le candidat", "info", icon=false) }}'
        '{{ macros.stepper(2, 5, "Lots", next_title="Identité de l’entreprise") }}',
    )
    assert 'type="checkbox" id="defense" name="defense" value="true" checked' in html
    assert '<label class="fr-label" for="defense">' in html
    assert (
        '<p class="fr-badge fr-badge--info fr-badge--no-icon">Déclaré par le candidat</p>' in html
    )
    assert '<span class="fr-stepper__state">Étape 2 sur 5</span>' in html
    assert 'data-fr-current-step="2" data-fr-steps="5"' in html
    assert "Étape suivante :</span> Identité de l’entreprise" in html


def test_page_titles_say_the_step_and_the_error(app):
    source = (
        '{% extends "base.html" %}{% import "macros.html" as macros %}'
        "{% block title %}{{ macros.page_title(2, 5, 'Lots', errors) }}{% endblock %}"
    )
    with app.test_request_context("/"):
        plain = render_template_string(source, errors={})
        failed = render_template_string(source, errors={"lot_limit": "x"})
    assert "<title>Étape 2 sur 5 – Lots – Passe Marché</title>" in plain
    assert "<title>Erreur : Étape 2 sur 5 – Lots – Passe Marché</title>" in failed


def test_the_csrf_field_macro_carries_the_sessions_token(pages):
    response = pages.get("/essai/formulaire")
    token = csrf_token_of(response)
    assert len(token) >= 32
    assert f'<input type="hidden" name="csrf_token" value="{token}">' in response.get_data(
        as_text=True
    )
