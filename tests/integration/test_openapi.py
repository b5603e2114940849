"""The OpenAPI document at /api/v1/openapi.json tells the truth.

It is public, it is OpenAPI 3, it lists every route of the API and nothing else, its error
responses use the reference's `{error, errors}` shape, and, the key check, real error responses
(401, 403, 404, 400, 415, 422, 405, 413, 429) have a documented status and a body that validates
against the documented schema. The schema checker below is a small subset of JSON Schema (the
subset OpenAPI 3.0 documents use here), self-contained: jsonschema is not a dependency.
"""

from __future__ import annotations

import dataclasses
import re
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from passemarche.entrypoints.app import create_app
from passemarche.entrypoints.bootstrap import Container
from werkzeug.exceptions import MethodNotAllowed, NotFound

from tests.integration.conftest import Editor, complete_application, finalise_market
from tests.support import market_payload

OPENAPI_PATH = "/api/v1/openapi.json"
HTTP_METHODS = {"get", "put", "post", "delete", "patch"}
API_ERROR_KEYS = {"error", "errors", "retry_after"}
OAUTH_ERROR_KEYS = API_ERROR_KEYS | {"error_description"}
FRAMEWORK_ERROR_TRIO = {"code", "status", "message"}
# Errors an operation decides itself: each must be listed by status on the operation. Others
# (413, 405 on a path, 404 on an unknown path) may rest on the documented default response.
STATUSES_DOCUMENTED_BY_EACH_OPERATION = {400, 401, 403, 404, 415, 422, 429}

UNKNOWN_MARKET = "VR-2030-AAAAAAAAAAAA"
UNKNOWN_APPLICATION = "FT20300101AAAAAAAA"
MARKETS = "/api/v1/public_markets"


# --- a JSON Schema subset -----------------------------------------------------------------

ANNOTATIONS = {"description", "example", "examples", "title", "format", "readOnly", "writeOnly"}
CHECKED = {
    "$ref",
    "type",
    "nullable",
    "enum",
    "oneOf",
    "anyOf",
    "allOf",
    "properties",
    "required",
    "additionalProperties",
    "items",
    "minItems",
    "maxItems",
    "minLength",
    "maxLength",
    "pattern",
    "minimum",
    "maximum",
}
TYPES: dict[str, Callable[[Any], bool]] = {
    "object": lambda v: isinstance(v, dict),
    "array": lambda v: isinstance(v, list),
    "string": lambda v: isinstance(v, str),
    "boolean": lambda v: isinstance(v, bool),
    "integer": lambda v: isinstance(v, int) and not isinstance(v, bool),
    "number": lambda v: isinstance(v, int | float) and not isinstance(v, bool),
    "null": lambda v: v is None,
}


def resolve(document: dict[str, Any], node: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in node:
        reference = node["$ref"]
        assert reference.startswith("#/"), f"external reference {reference}"
        target: Any = document
        for part in reference[2:].split("/"):
            target = target[part.replace("~1", "/").replace("~0", "~")]
        node = target
    return node


def violations(
    document: dict[str, Any], schema: dict[str, Any], value: Any, at: str = "body"
) -> list[str]:
    """Every way `value` breaks `schema` (empty when it validates)."""
    schema = resolve(document, schema)
    unknown = set(schema) - CHECKED - ANNOTATIONS
    assert not unknown, f"the checker does not know {sorted(unknown)} (at {at})"
    if value is None and schema.get("nullable"):
        return []
    problems: list[str] = []
    for keyword, needed in (("oneOf", "exactly one"), ("anyOf", "at least one")):
        if keyword in schema:
            matching = [s for s in schema[keyword] if not violations(document, s, value, at)]
            if len(matching) != 1 if keyword == "oneOf" else not matching:
                problems.append(f"{at} matches {len(matching)} of {keyword} (needs {needed})")
    for part in schema.get("allOf", []):
        problems += violations(document, part, value, at)
    expected = schema.get("type")
    if expected is not None and not TYPES[expected](value):
        return [*problems, f"{at} is {type(value).__name__}, documented as {expected}"]
    if "enum" in schema and value not in schema["enum"]:
        problems.append(f"{at}={value!r} not in {schema['enum']}")
    if isinstance(value, dict):
        properties = schema.get("properties", {})
        problems += [
            f"{at}.{name} is missing" for name in schema.get("required", []) if name not in value
        ]
        extra = schema.get("additionalProperties", True)
        for name, item in value.items():
            if name in properties:
                problems += violations(document, properties[name], item, f"{at}.{name}")
            elif extra is False:
                problems.append(f"{at}.{name} is not documented")
            elif isinstance(extra, dict):
                problems += violations(document, extra, item, f"{at}.{name}")
    if isinstance(value, list):
        if "items" in schema:
            for index, item in enumerate(value):
                problems += violations(document, schema["items"], item, f"{at}[{index}]")
        if len(value) < schema.get("minItems", 0):
            problems.append(f"{at} has fewer than {schema['minItems']} items")
        if "maxItems" in schema and len(value) > schema["maxItems"]:
            problems.append(f"{at} has more than {schema['maxItems']} items")
    if isinstance(value, str):
        if len(value) < schema.get("minLength", 0):
            problems.append(f"{at} is shorter than {schema['minLength']}")
        if "maxLength" in schema and len(value) > schema["maxLength"]:
            problems.append(f"{at} is longer than {schema['maxLength']}")
        if "pattern" in schema and not re.search(schema["pattern"], value):
            problems.append(f"{at} does not match {schema['pattern']}")
    if TYPES["number"](value):
        if "minimum" in schema and value < schema["minimum"]:
            problems.append(f"{at} is below {schema['minimum']}")
        if "maximum" in schema and value > schema["maximum"]:
            problems.append(f"{at} is above {schema['maximum']}")
    return problems


# --- reading the document -----------------------------------------------------------------


def openapi_path(rule: str) -> str:
    """/api/v1/public_markets/<string:identifier> → /api/v1/public_markets/{identifier}"""
    return re.sub(r"<(?:[^<>:]+:)?([^<>]+)>", r"{\1}", rule)


def operations(document: dict[str, Any]) -> Iterator[tuple[str, str, dict[str, Any]]]:
    for path, item in document["paths"].items():
        for method, operation in item.items():
            if method in HTTP_METHODS:
                yield path, method, operation


def error_responses(operation: dict[str, Any]) -> Iterator[tuple[str, dict[str, Any]]]:
    for status, response in operation["responses"].items():
        if status == "default" or int(status) >= 400:
            yield status, response


def schema_of(document: dict[str, Any], response: dict[str, Any], mimetype: str) -> Any:
    response = resolve(document, response)
    content = response.get("content", {})
    assert mimetype in content, f"documented as {sorted(content)}, answered {mimetype}"
    return content[mimetype]["schema"]


def documented_operation(app: Any, method: str, path: str) -> tuple[str, str] | None:
    """The OpenAPI (path, method) that serves this request, or None when no operation does."""
    adapter = app.url_map.bind("localhost")
    try:
        rule, _ = adapter.match(path, method=method, return_rule=True)
    except (MethodNotAllowed, NotFound):
        return None
    return openapi_path(rule.rule), method.lower()


def documented_response(
    document: dict[str, Any], app: Any, method: str, path: str, status: int
) -> dict[str, Any]:
    """The documented response for a real one: the operation's own entry for its status (or, for
    errors no operation decides, its default); with no operation, a global (components) one."""
    found = documented_operation(app, method, path)
    if found is None:
        global_responses = document.get("components", {}).get("responses", {})
        assert global_responses, f"{status} on {method} {path}: no global response documented"
        assert len(global_responses) == 1, "which global response applies is ambiguous"
        return next(iter(global_responses.values()))
    responses = document["paths"][found[0]][found[1]]["responses"]
    if str(status) in responses:
        return responses[str(status)]
    assert status not in STATUSES_DOCUMENTED_BY_EACH_OPERATION, (
        f"{status} is not documented for {found[1].upper()} {found[0]} "
        f"(documented: {sorted(responses)})"
    )
    assert "default" in responses, f"{status} is not documented for {method} {path}"
    return responses["default"]


def walk(node: Any, at: str = "#") -> Iterator[tuple[str, dict[str, Any]]]:
    if isinstance(node, dict):
        yield at, node
        for key, value in node.items():
            yield from walk(value, f"{at}/{key}")
    elif isinstance(node, list):
        for index, value in enumerate(node):
            yield from walk(value, f"{at}/{index}")


# --- the API, as an editor calls it -------------------------------------------------------


class Api:
    """An editor's calls to one application, with a token per scope."""

    def __init__(self, app: Any, container: Container, editor: Editor) -> None:
        self.app = app
        self.client = app.test_client()
        self.container = container
        self.editor = Editor(self.client, editor.credentials)
        self._tokens: dict[str, str] = {}

    def token(self, scope: str = "api_access") -> str:
        if scope not in self._tokens:
            response = self.editor.request_token(scope)
            assert response.status_code == 200, response.get_json()
            self._tokens[scope] = response.get_json()["access_token"]
        return self._tokens[scope]

    def call(self, method: str, path: str, scope: str | None = "api_access", **kwargs: Any) -> Any:
        headers = dict(kwargs.pop("headers", {}))
        if scope is not None:
            headers["Authorization"] = f"Bearer {self.token(scope)}"
        return self.client.open(path, method=method, headers=headers, **kwargs)

    def create_market(self, **fields: Any) -> str:
        response = self.call("POST", MARKETS, json={"public_market": market_payload(**fields)})
        assert response.status_code == 201, response.get_json()
        return response.get_json()["identifier"]

    def open_market(self) -> str:
        identifier = self.create_market()
        finalise_market(self.container, identifier)
        return identifier

    def application(self, completed: bool = False) -> str:
        market = self.open_market()
        response = self.call("POST", f"{MARKETS}/{market}/market_applications", json={})
        assert response.status_code == 201, response.get_json()
        identifier = response.get_json()["identifier"]
        if completed:
            complete_application(self.container, identifier)
        return identifier

    def limited(self) -> Api:
        """The same editor and database, behind an application with a budget of one call."""
        config = self.container.config.but(
            rate_limit_token="1/hour",
            rate_limit_api="1/hour",
            rate_limit_downloads="1/hour",
            rate_limit_key_prefix=f"test-{uuid.uuid4().hex[:8]}",
        )
        container = dataclasses.replace(self.container, config=config)
        return Api(create_app(container=container), container, self.editor)

    def over_the_limit(self, send: Callable[[Api], Any], attempts: int = 5) -> Any:
        """Send the same request to an application with a budget of one, until it says 429."""
        limited = self.limited()
        for _ in range(attempts):
            response = send(limited)
            if response.status_code == 429:
                return response
        raise AssertionError(f"no 429 after {attempts} requests")


@pytest.fixture
def api(app: Any, container: Container, editor: Editor) -> Api:
    return Api(app, container, editor)


@pytest.fixture
def openapi(client: Any) -> dict[str, Any]:
    response = client.get(OPENAPI_PATH)
    assert response.status_code == 200
    return response.get_json()


# --- the document -------------------------------------------------------------------------


def test_the_document_is_served_without_authentication(client: Any) -> None:
    anonymous = client.get(OPENAPI_PATH)
    with_a_bad_token = client.get(OPENAPI_PATH, headers={"Authorization": "Bearer nope"})

    for response in (anonymous, with_a_bad_token):
        assert response.status_code == 200
        assert response.mimetype == "application/json"
    assert anonymous.get_json() == with_a_bad_token.get_json()


def test_the_document_is_openapi_3_and_describes_the_bearer_authentication(
    openapi: dict[str, Any],
) -> None:
    assert openapi["openapi"].startswith("3.")
    assert openapi["info"]["title"]
    assert openapi["info"]["version"]
    schemes = openapi["components"]["securitySchemes"]
    assert {"type": "http", "scheme": "bearer"}.items() <= next(iter(schemes.values())).items()
    assert openapi["paths"]["/oauth/token"]["post"]["security"] == []


def test_every_route_of_the_api_is_documented_and_nothing_else(
    app: Any, openapi: dict[str, Any]
) -> None:
    served = {
        (openapi_path(rule.rule), method.lower())
        for rule in app.url_map.iter_rules()
        if (rule.rule.startswith("/api/v1/") or rule.rule == "/oauth/token")
        and not rule.endpoint.startswith("api-docs.")  # the document itself, its viewers
        for method in rule.methods - {"HEAD", "OPTIONS"}
    }
    documented = {(path, method) for path, method, _ in operations(openapi)}

    assert documented == served
    assert ("/oauth/token", "post") in documented
    assert len(documented) >= 6


def test_every_documented_error_response_has_the_reference_shape(openapi: dict[str, Any]) -> None:
    for path, method, operation in operations(openapi):
        allowed = OAUTH_ERROR_KEYS if path == "/oauth/token" else API_ERROR_KEYS
        for status, response in error_responses(operation):
            where = f"{method.upper()} {path} {status}"
            schema = resolve(openapi, schema_of(openapi, response, "application/json"))
            properties = set(schema.get("properties", {}))
            assert "error" in properties, where
            assert properties <= allowed, f"{where}: {sorted(properties - allowed)}"
            if "errors" in properties:
                errors = schema["properties"]["errors"]
                assert not violations(openapi, errors, ["Name can't be blank"]), where
                assert not violations(openapi, errors, {"siret": ["invalide"]}), where
                assert violations(openapi, errors, "Name can't be blank"), where


def test_no_schema_has_the_framework_default_error_shape(openapi: dict[str, Any]) -> None:
    for at, node in walk(openapi):
        properties = node.get("properties")
        if isinstance(properties, dict):
            assert not FRAMEWORK_ERROR_TRIO <= set(properties), f"{at}: {sorted(properties)}"


def test_the_checker_refuses_the_framework_default_error_shape(openapi: dict[str, Any]) -> None:
    """The schema checker has teeth: what flask-smorest would answer by default is refused."""
    schema = {"$ref": "#/components/schemas/Error"}
    smorest_default = {"code": 404, "status": "Not Found", "message": "Resource not found"}

    assert violations(openapi, schema, smorest_default)
    assert violations(openapi, schema, {"error": 404})
    assert violations(openapi, schema, {"errors": "Name can't be blank"})
    assert not violations(openapi, schema, {"error": "Forbidden", "errors": ["Defense"]})
    assert not violations(openapi, schema, {"errors": {"siret": ["invalide"]}})


# --- real errors against the document -----------------------------------------------------


def assert_documented(openapi: dict[str, Any], app: Any, response: Any) -> None:
    """The real error: a documented status, a documented media type, a body that validates."""
    method, path = response.request.method, response.request.path
    where = f"{method} {path} → {response.status_code}"
    assert response.status_code >= 400, where
    body = response.get_json(silent=True)
    assert isinstance(body, dict), f"{where}: not a JSON object: {response.get_data(as_text=True)}"
    allowed = OAUTH_ERROR_KEYS if path == "/oauth/token" else API_ERROR_KEYS
    assert set(body) <= allowed, f"{where}: {body}"
    assert "error" in body or "errors" in body, f"{where}: {body}"
    documented = documented_response(openapi, app, method, path, response.status_code)
    schema = schema_of(openapi, documented, response.mimetype)
    problems = violations(openapi, schema, body)
    assert not problems, f"{where}: {body} does not match the documented schema: {problems}"


def fill(path: str) -> str:
    return re.sub(
        r"\{([^}]+)\}",
        lambda m: (
            UNKNOWN_MARKET
            if "market" in m.group(1) or "/public_markets/" in path
            else UNKNOWN_APPLICATION
        ),
        path,
    )


def api_operations(openapi: dict[str, Any]) -> list[tuple[str, str]]:
    return [
        (method.upper(), fill(path))
        for path, method, _ in operations(openapi)
        if path.startswith("/api/v1/")
    ]


def test_every_operation_answers_401_as_documented_without_a_valid_token(
    api: Api, openapi: dict[str, Any]
) -> None:
    assert api_operations(openapi)
    for method, path in api_operations(openapi):
        for headers in ({}, {"Authorization": "Bearer not-a-token"}, {"Authorization": "Basic x"}):
            response = api.call(method, path, scope=None, headers=headers, json={})

            assert response.status_code == 401, (method, path, headers)
            assert response.get_json() == {"error": "Not authorized"}
            assert_documented(openapi, api.app, response)


def test_every_operation_answers_403_as_documented_to_a_token_without_the_scope(
    api: Api, openapi: dict[str, Any]
) -> None:
    for method, path in api_operations(openapi):
        scope = "api_read" if method == "POST" else "api_write"
        response = api.call(method, path, scope=scope, json={})

        assert response.status_code == 403, (method, path, scope)
        assert response.get_json()["error"] == "Forbidden"
        assert_documented(openapi, api.app, response)


def _reuse_idempotency_key(api: Api) -> Any:
    first = api.call(
        "POST", MARKETS, json={"public_market": market_payload()}, headers={"Idempotency-Key": "k"}
    )
    assert first.status_code == 201, first.get_json()
    other_body = {"public_market": market_payload(name="Un autre marché")}
    return api.call("POST", MARKETS, json=other_body, headers={"Idempotency-Key": "k"})


def _big_body() -> dict[str, Any]:
    return {"public_market": market_payload(name="x" * (2 * 1024 * 1024))}


REAL_ERRORS: dict[str, Callable[[Api], Any]] = {
    # 404
    "404 reading an unknown market": lambda api: api.call("GET", f"{MARKETS}/{UNKNOWN_MARKET}"),
    "404 applying to an unknown market": lambda api: api.call(
        "POST", f"{MARKETS}/{UNKNOWN_MARKET}/market_applications", json={}
    ),
    "404 reading an unknown application": lambda api: api.call(
        "GET", f"/api/v1/market_applications/{UNKNOWN_APPLICATION}"
    ),
    "404 the attestation of an unknown application": lambda api: api.call(
        "GET", f"/api/v1/market_applications/{UNKNOWN_APPLICATION}/attestation"
    ),
    "404 the package of an unknown application": lambda api: api.call(
        "GET", f"/api/v1/market_applications/{UNKNOWN_APPLICATION}/documents_package"
    ),
    "404 an attestation not generated yet": lambda api: api.call(
        "GET", f"/api/v1/market_applications/{api.application(completed=True)}/attestation"
    ),
    "404 a package not generated yet": lambda api: api.call(
        "GET", f"/api/v1/market_applications/{api.application(completed=True)}/documents_package"
    ),
    "404 an unknown path under /api/v1": lambda api: api.call("GET", "/api/v1/nothing_here"),
    # 400
    "400 malformed JSON creating a market": lambda api: api.call(
        "POST", MARKETS, data='{"public_market": {', content_type="application/json"
    ),
    "400 a market without its envelope": lambda api: api.call("POST", MARKETS, json={"x": 1}),
    "400 a market body that is not an object": lambda api: api.call("POST", MARKETS, json=[1]),
    "400 malformed JSON applying": lambda api: api.call(
        "POST",
        f"{MARKETS}/{api.open_market()}/market_applications",
        data="{",
        content_type="application/json",
    ),
    "400 an invalid Idempotency-Key": lambda api: api.call(
        "POST",
        MARKETS,
        json={"public_market": market_payload()},
        headers={"Idempotency-Key": "a b"},
    ),
    # 415
    "415 a market sent as text": lambda api: api.call(
        "POST", MARKETS, data="{}", content_type="text/plain"
    ),
    "415 a market sent as a form": lambda api: api.call("POST", MARKETS, data={"name": "x"}),
    "415 an application sent as text": lambda api: api.call(
        "POST",
        f"{MARKETS}/{api.open_market()}/market_applications",
        data="{}",
        content_type="text/plain",
    ),
    # 422
    "422 a market with every field missing": lambda api: api.call(
        "POST", MARKETS, json={"public_market": {}}
    ),
    "422 a market with an invalid SIRET": lambda api: api.call(
        "POST", MARKETS, json={"public_market": market_payload(siret="12345678901234")}
    ),
    "422 an application with an invalid SIRET": lambda api: api.call(
        "POST",
        f"{MARKETS}/{api.open_market()}/market_applications",
        json={"market_application": {"siret": "12345678901234"}},
    ),
    "422 the attestation of an application not completed": lambda api: api.call(
        "GET", f"/api/v1/market_applications/{api.application()}/attestation"
    ),
    "422 an Idempotency-Key reused with another body": lambda api: _reuse_idempotency_key(api),
    # 403 (beyond scopes)
    "403 a defence market without the authorization": lambda api: api.call(
        "POST",
        MARKETS,
        json={"public_market": market_payload(market_type_codes=["supplies", "defense"])},
    ),
    "403 applying to a market the buyer has not finalised": lambda api: api.call(
        "POST", f"{MARKETS}/{api.create_market()}/market_applications", json={}
    ),
    # 405
    "405 GET on the market collection": lambda api: api.call("GET", MARKETS),
    "405 DELETE on a market": lambda api: api.call("DELETE", f"{MARKETS}/{UNKNOWN_MARKET}"),
    "405 PUT on an attestation": lambda api: api.call(
        "PUT", f"/api/v1/market_applications/{UNKNOWN_APPLICATION}/attestation"
    ),
    "405 GET on the token endpoint": lambda api: api.client.get("/oauth/token"),
    # 413
    "413 a market body over the size limit": lambda api: api.call(
        "POST", MARKETS, json=_big_body()
    ),
    # OAuth
    "400 a token request without grant_type": lambda api: api.client.post(
        "/oauth/token", data={"client_id": api.editor.client_id}
    ),
    "400 a token request with another grant type": lambda api: api.client.post(
        "/oauth/token",
        data={
            "grant_type": "password",
            "client_id": api.editor.client_id,
            "client_secret": api.editor.client_secret,
        },
    ),
    "400 a token request with an unknown scope": lambda api: api.editor.request_token("admin"),
    "401 a token request with a wrong secret": lambda api: api.client.post(
        "/oauth/token",
        data={
            "grant_type": "client_credentials",
            "client_id": api.editor.client_id,
            "client_secret": "wrong",
        },
    ),
    # 429
    "429 token requests over the limit": lambda api: api.over_the_limit(
        lambda limited: limited.editor.request_token()
    ),
    "429 reads over the API limit": lambda api: api.over_the_limit(
        lambda limited: limited.call("GET", f"{MARKETS}/{UNKNOWN_MARKET}")
    ),
    "429 market creations over the API limit": lambda api: api.over_the_limit(
        lambda limited: limited.call("POST", MARKETS, json={})
    ),
    "429 applications over the API limit": lambda api: api.over_the_limit(
        lambda limited: limited.call(
            "POST", f"{MARKETS}/{UNKNOWN_MARKET}/market_applications", json={}
        )
    ),
    "429 downloads over their limit": lambda api: api.over_the_limit(
        lambda limited: limited.call(
            "GET", f"/api/v1/market_applications/{UNKNOWN_APPLICATION}/attestation"
        )
    ),
}


@pytest.mark.parametrize("case", list(REAL_ERRORS))
def test_documented_error_responses_match_the_real_ones(
    case: str, api: Api, openapi: dict[str, Any]
) -> None:
    response = REAL_ERRORS[case](api)

    assert response.status_code == int(case[:3]), response.get_data(as_text=True)
    assert_documented(openapi, api.app, response)


def test_a_429_also_says_when_to_come_back(api: Api) -> None:
    response = api.over_the_limit(
        lambda limited: limited.call("GET", f"{MARKETS}/{UNKNOWN_MARKET}")
    )

    body = response.get_json()
    assert body["error"] == "Rate limit exceeded"
    assert isinstance(body["retry_after"], int) and body["retry_after"] > 0
    assert response.headers["Retry-After"] == str(body["retry_after"])


def test_a_405_names_the_methods_allowed(api: Api) -> None:
    response = api.call("GET", MARKETS)

    assert response.status_code == 405
    assert "POST" in response.headers["Allow"]
