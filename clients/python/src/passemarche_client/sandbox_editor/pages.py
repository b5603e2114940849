"""The sandbox editor's two page templates (Jinja, autoescaped by render_template_string)."""

_STYLE = """
<style>
body { font-family: system-ui, sans-serif; margin: 2rem auto; max-width: 60rem; padding: 0 1rem;
       color: #161616; }
h1 { font-size: 1.6rem; } h2 { font-size: 1.2rem; margin-top: 2rem; }
table { border-collapse: collapse; width: 100%; font-size: .9rem; }
th, td { border-bottom: 1px solid #ddd; padding: .4rem; text-align: left; vertical-align: top; }
.ok { color: #18753c; font-weight: bold; } .ko { color: #ce0500; font-weight: bold; }
.message { background: #e8edff; padding: .6rem 1rem; }
form.inline { display: inline; }
label { display: block; margin-top: .5rem; }
input[type=text] { width: 24rem; }
code { font-size: .85rem; }
</style>
"""

HOME = (
    """<!doctype html>
<html lang="fr">
<head><meta charset="utf-8"><title>{{ settings.name }} – Passe Marché</title>"""
    + _STYLE
    + """</head>
<body>
<h1>{{ settings.name }}</h1>
<p>Plateforme de démonstration : elle reçoit et vérifie les webhooks de Passe Marché
(signatures <code>X-Webhook-Signature-SHA256</code> et Standard Webhooks, fenêtre anti-rejeu)
et permet de poursuivre les parcours acheteur et candidat.</p>
{% if message %}<p class="message" role="status">{{ message }}</p>{% endif %}

{% if settings.can_call_api %}
<h2>Créer un marché</h2>
<form method="post" action="/markets">
  <input type="hidden" name="csrf_token" value="{{ csrf_token }}">
  <label>Nom <input type="text" name="name" value="Fourniture de matériel informatique"></label>
  <label>Lot <input type="text" name="lot_name" value="Lot 1 - Ordinateurs portables"></label>
  <label>Date limite <input type="text" name="deadline" value="{{ default_deadline }}"></label>
  <label>SIRET de l’acheteur <input type="text" name="siret" value="13002526500013"></label>
  <label><input type="checkbox" name="market_type_codes" value="supplies" checked>
    Fournitures</label>
  <label><input type="checkbox" name="market_type_codes" value="services"> Services</label>
  <label><input type="checkbox" name="market_type_codes" value="works"> Travaux</label>
  <p><button type="submit">Créer le marché</button></p>
</form>
{% endif %}

{% if markets %}
<h2>Marchés créés ici</h2>
<table>
<tr><th>Marché</th><th>Acheteur</th><th>Candidature</th></tr>
{% for identifier, url in markets.items() %}
<tr>
  <td><code>{{ identifier }}</code>
    {% if identifier in completed_markets %}<span class="ok">configuré</span>{% endif %}</td>
  <td><a href="{{ url }}">Configurer le marché (acheteur)</a></td>
  <td>{% if identifier in completed_markets %}
    <form class="inline" method="post" action="/markets/{{ identifier }}/applications">
      <input type="hidden" name="csrf_token" value="{{ csrf_token }}">
      <input type="text" name="siret" value="13002526500013" aria-label="SIRET du candidat">
      <button type="submit">Créer une candidature</button>
    </form>{% else %}en attente de <code>market.completed</code>{% endif %}</td>
</tr>
{% endfor %}
</table>
{% endif %}

{% if applications %}
<h2>Candidatures créées ici</h2>
<table>
<tr><th>Candidature</th><th>Candidat</th><th>Documents</th></tr>
{% for identifier, (market, url) in applications.items() %}
<tr>
  <td><code>{{ identifier }}</code> (marché <code>{{ market }}</code>)</td>
  <td><a href="{{ url }}">Poursuivre la candidature (candidat)</a></td>
  <td>{% if identifier in completed_applications %}
    <a href="/applications/{{ identifier }}/attestation">Attestation (PDF)</a> ·
    <a href="/applications/{{ identifier }}/documents_package">Dossier (ZIP)</a>
  {% else %}en attente de <code>market_application.completed</code>{% endif %}</td>
</tr>
{% endfor %}
</table>
{% endif %}

<h2>Webhooks reçus ({{ webhooks|length }})</h2>
{% if webhooks %}
<table>
<tr><th>Reçu</th><th>Signature</th><th>Événement</th><th>Identifiant</th><th>Ressource</th>
  <th>Suite</th></tr>
{% for w in webhooks %}
<tr>
  <td>{{ w.received_at }}</td>
  <td>{% if w.verified %}<span class="ok">vérifiée</span>
    {% else %}<span class="ko">refusée</span> : {{ w.reason }}{% endif %}</td>
  <td>{{ w.event or "" }}</td>
  <td><code>{{ w.webhook_id or "" }}</code></td>
  <td>{% if w.payload and w.payload.market %}marché <code>{{ w.payload.market.identifier }}</code>
      {% elif w.payload and w.payload.market_application %}candidature
      <code>{{ w.payload.market_application.identifier }}</code>
      {% set company = w.payload.market_application.company_name %}
      {% if company %}({{ company }}){% endif %}
      {% endif %}</td>
  <td>{% if w.verified and settings.can_call_api and w.event == "market.completed" %}
    <form class="inline" method="post"
          action="/markets/{{ w.payload.market.identifier }}/applications">
      <input type="hidden" name="csrf_token" value="{{ csrf_token }}">
      <input type="text" name="siret" value="13002526500013" aria-label="SIRET du candidat">
      <button type="submit">Créer une candidature</button>
    </form>
  {% elif w.verified and settings.can_call_api and w.event == "market_application.completed" %}
    {% set application = w.payload.market_application.identifier %}
    <a href="/applications/{{ application }}/attestation">Attestation (PDF)</a> ·
    <a href="/applications/{{ application }}/documents_package">Dossier (ZIP)</a>
  {% endif %}</td>
</tr>
{% endfor %}
</table>
{% else %}
<p>Aucun webhook pour l’instant. Adresse à déclarer :
  <code>{{ request.host_url }}webhooks</code></p>
{% endif %}
</body>
</html>
"""
)

RETURN = (
    """<!doctype html>
<html lang="fr">
<head><meta charset="utf-8"><title>{{ title }}</title>"""
    + _STYLE
    + """</head>
<body>
<h1>{{ title }}</h1>
{% for line in lines %}<p>{{ line }}</p>{% endfor %}
<p><a href="/">Retour à l’éditeur bac à sable</a></p>
</body>
</html>
"""
)
