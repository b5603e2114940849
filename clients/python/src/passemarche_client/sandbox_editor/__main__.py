"""`python -m passemarche_client.sandbox_editor [--host H] [--port P]`; the secrets come from
the environment: PASSEMARCHE_WEBHOOK_SECRET (required), and for the API calls
PASSEMARCHE_BASE_URL, PASSEMARCHE_CLIENT_ID, PASSEMARCHE_CLIENT_SECRET."""

from __future__ import annotations

import argparse
import os
import sys

from werkzeug.serving import make_server

from passemarche_client.sandbox_editor.app import EditorSettings, create_app


def main() -> int:
    parser = argparse.ArgumentParser(
        prog="python -m passemarche_client.sandbox_editor", description=__doc__
    )
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8000)
    args = parser.parse_args()
    secret = os.environ.get("PASSEMARCHE_WEBHOOK_SECRET", "")
    if not secret:
        print("PASSEMARCHE_WEBHOOK_SECRET is required", file=sys.stderr)
        return 2
    settings = EditorSettings(
        webhook_secret=secret,
        base_url=os.environ.get("PASSEMARCHE_BASE_URL"),
        client_id=os.environ.get("PASSEMARCHE_CLIENT_ID"),
        client_secret=os.environ.get("PASSEMARCHE_CLIENT_SECRET"),
    )
    server = make_server(args.host, args.port, create_app(settings), threaded=True)
    print(f"Sandbox editor on http://{args.host}:{server.server_port}/", flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    return 0


if __name__ == "__main__":
    sys.exit(main())
