"""Local replicas of the API Entreprise sandbox and of BODACC (test and demo tooling).

``python -m passemarche.sandbox [--host H] [--api-port P] [--bodacc-port P] [--token T]``
starts both (ports also from ``SANDBOX_API_ENTREPRISE_PORT`` / ``SANDBOX_BODACC_PORT``, token
from ``SANDBOX_API_ENTREPRISE_TOKEN``; port 0 picks a free port) and prints their base URLs.
"""

from __future__ import annotations

import argparse
import os
import threading
from collections.abc import Sequence

from passemarche.sandbox.api_entreprise import DEFAULT_TOKEN, create_sandbox_app
from passemarche.sandbox.bodacc import create_bodacc_app
from werkzeug.serving import BaseWSGIServer, make_server

__all__ = ["create_bodacc_app", "create_sandbox_app", "main", "serve_in_thread"]


def serve_in_thread(server: BaseWSGIServer) -> threading.Thread:
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    return thread


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m passemarche.sandbox", description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument(
        "--api-port", type=int, default=int(os.environ.get("SANDBOX_API_ENTREPRISE_PORT", "8091"))
    )
    parser.add_argument(
        "--bodacc-port", type=int, default=int(os.environ.get("SANDBOX_BODACC_PORT", "8092"))
    )
    parser.add_argument(
        "--token", default=os.environ.get("SANDBOX_API_ENTREPRISE_TOKEN", DEFAULT_TOKEN)
    )
    parser.add_argument("--slow-seconds", type=float, default=40.0)
    args = parser.parse_args(argv)
    api = make_server(
        args.host,
        args.api_port,
        create_sandbox_app(args.token, args.slow_seconds),
        threaded=True,
    )
    bodacc = make_server(args.host, args.bodacc_port, create_bodacc_app(), threaded=True)
    serve_in_thread(bodacc)
    print(f"API Entreprise sandbox: http://{args.host}:{api.server_port} (token {args.token})")
    print(f"BODACC sandbox: http://{args.host}:{bodacc.server_port}", flush=True)
    try:
        api.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        bodacc.shutdown()
