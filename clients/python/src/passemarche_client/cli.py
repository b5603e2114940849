"""`passemarche-client`: the API from a shell. Settings come from flags or the environment:
PASSEMARCHE_BASE_URL, PASSEMARCHE_CLIENT_ID, PASSEMARCHE_CLIENT_SECRET (the API) and
PASSEMARCHE_WEBHOOK_SECRET (verify-webhook). Results are JSON on stdout; `-v` logs every call as
JSON lines on stderr. Exit status: 0 success, 1 refused by the API / invalid webhook, 2 usage
(a missing or malformed setting, a file that cannot be read or written), 3 network failure or an
answer that is not the API's (a redirect, a body that is not its JSON). Failures other than the
API's refusals are one line on stderr."""

from __future__ import annotations

import argparse
import dataclasses
import json
import logging
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import requests

from passemarche_client.client import PasseMarcheClient
from passemarche_client.errors import ApiError, ProtocolError, TransportError
from passemarche_client.logging import json_logs
from passemarche_client.webhooks import WebhookVerificationError, verify_webhook


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="passemarche-client", description=__doc__)
    parser.add_argument("--base-url", default=os.environ.get("PASSEMARCHE_BASE_URL"))
    parser.add_argument("--client-id", default=os.environ.get("PASSEMARCHE_CLIENT_ID"))
    parser.add_argument("--client-secret", default=os.environ.get("PASSEMARCHE_CLIENT_SECRET"))
    parser.add_argument("--scope", default="api_access")
    parser.add_argument("-v", "--verbose", action="store_true", help="log every call on stderr")
    commands = parser.add_subparsers(dest="command", required=True)

    commands.add_parser("token", help="print an access token (for curl)")

    market = commands.add_parser("create-market", help="POST /api/v1/public_markets")
    market.add_argument("--name", required=True)
    market.add_argument("--deadline", required=True, help="ISO 8601, e.g. 2030-12-31T23:59:59Z")
    market.add_argument("--siret", required=True, help="the buyer's SIRET")
    market.add_argument(
        "--type",
        dest="types",
        action="append",
        required=True,
        help="market type code (repeat): supplies, services, works, defense",
    )
    market.add_argument("--lot-name")
    market.add_argument("--lot", dest="lots", action="append", help="one lot name (repeat)")
    market.add_argument("--lot-limit", type=int)
    market.add_argument("--provider-user-id")
    market.add_argument("--idempotency-key")

    application = commands.add_parser(
        "create-application", help="POST /api/v1/public_markets/{id}/market_applications"
    )
    application.add_argument("market_identifier")
    application.add_argument("--siret")
    application.add_argument("--provider-user-id")
    application.add_argument("--idempotency-key")

    for name, what in (("get-market", "a market"), ("get-application", "an application")):
        command = commands.add_parser(name, help=f"read {what} back")
        command.add_argument("identifier")

    for name, what in (("download-attestation", "PDF"), ("download-package", "ZIP")):
        command = commands.add_parser(name, help=f"download the {what} of an application")
        command.add_argument("identifier")
        command.add_argument("-o", "--output", default=".", help="file or folder (default: .)")
        command.add_argument(
            "--wait", type=float, default=0.0, help="seconds to wait while it is being generated"
        )

    webhook = commands.add_parser("verify-webhook", help="verify a received webhook")
    webhook.add_argument("--secret", default=os.environ.get("PASSEMARCHE_WEBHOOK_SECRET"))
    webhook.add_argument(
        "--header", dest="headers", action="append", default=[], help='"Name: value" (repeat)'
    )
    webhook.add_argument("--body", required=True, help="file holding the exact body, - for stdin")
    webhook.add_argument("--tolerance", type=float, default=300.0)
    webhook.add_argument("--allow-legacy-only", action="store_true")
    return parser


def _print(value: Any) -> None:
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        value = {
            f.name: getattr(value, f.name) for f in dataclasses.fields(value) if f.name != "raw"
        }
    print(json.dumps(value, ensure_ascii=False, indent=2, default=str))


def _verify(args: argparse.Namespace) -> int:
    if not args.secret:
        print("verify-webhook: --secret or PASSEMARCHE_WEBHOOK_SECRET is needed", file=sys.stderr)
        return 2
    headers: dict[str, str] = {}
    for line in args.headers:
        name, _, value = line.partition(":")
        headers[name.strip()] = value.strip()
    try:
        body = sys.stdin.buffer.read() if args.body == "-" else Path(args.body).read_bytes()
    except OSError as error:
        reason = error.strerror or str(error)
        print(f"verify-webhook: cannot read --body {args.body}: {reason}", file=sys.stderr)
        return 2
    try:
        event = verify_webhook(
            args.secret,
            headers,
            body,
            tolerance=args.tolerance,
            allow_legacy_only=args.allow_legacy_only,
        )
    except WebhookVerificationError as error:
        print(json.dumps({"valid": False, "reason": error.reason}))
        return 1
    print(json.dumps({"valid": True, "event": event.event, "webhook_id": event.webhook_id}))
    return 0


def _base_url_problem(base_url: str) -> str | None:
    parts = urlsplit(base_url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return f"the base URL must start with https:// (or http://) and name a host: {base_url!r}"
    return None


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    if not args.verbose:
        return _run(args)
    with json_logs(logging.INFO):
        return _run(args)


def _run(args: argparse.Namespace) -> int:
    if args.command == "verify-webhook":
        return _verify(args)
    missing = [n for n in ("base_url", "client_id", "client_secret") if not getattr(args, n)]
    if missing:
        names = ", ".join("PASSEMARCHE_" + n.upper() for n in missing)
        print(f"passemarche-client: missing settings: {names}", file=sys.stderr)
        return 2
    problem = _base_url_problem(args.base_url)
    if problem:
        print(f"passemarche-client: {problem}", file=sys.stderr)
        return 2
    client = PasseMarcheClient(args.base_url, args.client_id, args.client_secret, scope=args.scope)
    try:
        with client:
            if args.command == "token":
                token = client.token()
                _print(
                    {
                        "access_token": token.access_token,
                        "token_type": token.token_type,
                        "expires_in": token.expires_in,
                        "scope": token.scope,
                    }
                )
            elif args.command == "create-market":
                _print(
                    client.create_market(
                        name=args.name,
                        deadline=args.deadline,
                        siret=args.siret,
                        market_type_codes=args.types,
                        lot_name=args.lot_name,
                        lots=[{"name": n} for n in args.lots] if args.lots else None,
                        lot_limit=args.lot_limit,
                        provider_user_id=args.provider_user_id,
                        idempotency_key=args.idempotency_key,
                    )
                )
            elif args.command == "create-application":
                _print(
                    client.create_application(
                        args.market_identifier,
                        siret=args.siret,
                        provider_user_id=args.provider_user_id,
                        idempotency_key=args.idempotency_key,
                    )
                )
            elif args.command == "get-market":
                _print(client.get_market(args.identifier))
            elif args.command == "get-application":
                _print(client.get_application(args.identifier))
            elif args.command == "download-attestation":
                _print(client.download_attestation(args.identifier, args.output, wait=args.wait))
            elif args.command == "download-package":
                _print(
                    client.download_documents_package(args.identifier, args.output, wait=args.wait)
                )
    except ApiError as error:
        _print({"status": error.status, "error": error.error, "errors": error.errors})
        return 1
    except (TransportError, ProtocolError) as error:
        print(f"passemarche-client: {error}", file=sys.stderr)
        return 3
    except requests.RequestException as error:
        print(f"passemarche-client: {type(error).__name__}: {error}", file=sys.stderr)
        return 3
    except OSError as error:
        where = f" {error.filename}" if error.filename else ""
        print(f"passemarche-client:{where}: {error.strerror or error}", file=sys.stderr)
        return 2
    except ValueError as error:
        print(f"passemarche-client: {error}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
