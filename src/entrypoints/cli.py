"""The `passemarche` command: database, editors and the web server."""

from __future__ import annotations

import json
import os
import sys
from dataclasses import asdict
from pathlib import Path
from typing import Any

import click
from passemarche.config import Config
from passemarche.domain.errors import DomainError, NotFound, ValidationFailed
from passemarche.entrypoints.cli_webhooks import webhooks
from passemarche.services import editors as editor_service


def _container() -> Any:
    from passemarche.entrypoints.bootstrap import bootstrap

    return bootstrap(Config.from_env())


def _fail(error: DomainError) -> None:
    messages = error.messages if isinstance(error, ValidationFailed) else [error.message]
    for message in messages:
        click.echo(f"error: {message}", err=True)
    sys.exit(2 if isinstance(error, NotFound) else 1)


@click.group(help="Passe Marché administration.")
def main() -> None:
    pass


@main.group(help="Database schema.")
def db() -> None:
    pass


@db.command("upgrade", help="Apply every pending migration.")
def db_upgrade() -> None:
    from passemarche.adapters.database import upgrade_database

    config = Config.from_env()
    upgrade_database(config.database_url)
    click.echo("database is up to date", err=True)


@main.group(help="Editors (the platforms that call the API).")
def editor() -> None:
    pass


@editor.command("create", help="Create an editor and print its credentials (shown once).")
@click.option("--name", required=True)
@click.option("--webhook-url")
@click.option("--buyer-return-url")
@click.option("--candidate-return-url")
@click.option("--defense", is_flag=True, help="May create defence markets.")
@click.option("--inactive", is_flag=True)
@click.option("--unauthorized", is_flag=True)
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object on stdout.")
@click.option("--if-not-exists", is_flag=True, help="Do nothing when an editor has this name.")
def editor_create(
    name: str,
    webhook_url: str | None,
    buyer_return_url: str | None,
    candidate_return_url: str | None,
    defense: bool,
    inactive: bool,
    unauthorized: bool,
    as_json: bool,
    if_not_exists: bool,
) -> None:
    from passemarche.domain.errors import EditorAlreadyExists

    container = _container()
    try:
        credentials = editor_service.create_editor(
            container.uow(),
            container.clock,
            name,
            webhook_url=webhook_url,
            buyer_return_url=buyer_return_url,
            candidate_return_url=candidate_return_url,
            can_create_defense_markets=defense,
            active=not inactive,
            authorized=not unauthorized,
        )
    except EditorAlreadyExists as error:
        if if_not_exists:
            click.echo(f"editor {name!r} already exists", err=True)
            return
        _fail(error)
        return
    except DomainError as error:
        _fail(error)
        return
    if as_json:
        click.echo(json.dumps(asdict(credentials)))
    else:
        click.echo(f"name:           {credentials.name}")
        click.echo(f"client_id:      {credentials.client_id}")
        click.echo(f"client_secret:  {credentials.client_secret}")
        click.echo(f"webhook_secret: {credentials.webhook_secret}")
        click.echo("Keep the client secret now: only its hash is stored.", err=True)


@editor.command("list", help="List editors (never their secrets).")
@click.option("--json", "as_json", is_flag=True)
def editor_list(as_json: bool) -> None:
    summaries = editor_service.list_editors(_container().uow())
    if as_json:
        click.echo(json.dumps([asdict(s) for s in summaries]))
        return
    for s in summaries:
        flags = ",".join(
            flag
            for flag, on in (
                ("active", s.active),
                ("authorized", s.authorized),
                ("defense", s.can_create_defense_markets),
            )
            if on
        )
        click.echo(f"{s.name}\t{s.client_id}\t{flags or '-'}\t{s.webhook_url or '-'}")


@editor.command("update", help="Change an editor's flags or URLs ('' clears a URL).")
@click.argument("name")
@click.option("--active/--inactive", default=None)
@click.option("--authorized/--unauthorized", default=None)
@click.option("--defense/--no-defense", default=None)
@click.option("--webhook-url")
@click.option("--buyer-return-url")
@click.option("--candidate-return-url")
@click.option("--json", "as_json", is_flag=True)
def editor_update(name: str, as_json: bool, defense: bool | None, **changes: Any) -> None:
    try:
        container = _container()
        summary = editor_service.update_editor(
            container.uow(),
            container.clock,
            name,
            editor_service.EditorChanges(can_create_defense_markets=defense, **changes),
        )
    except DomainError as error:
        _fail(error)
        return
    click.echo(json.dumps(asdict(summary)) if as_json else f"editor {summary.name!r} updated")


@editor.command("rotate-secret", help="New client secret; existing tokens are revoked.")
@click.argument("name")
@click.option("--json", "as_json", is_flag=True)
def editor_rotate_secret(name: str, as_json: bool) -> None:
    container = _container()
    try:
        credentials = editor_service.rotate_secret(container.uow(), container.clock, name)
    except DomainError as error:
        _fail(error)
        return
    if as_json:
        click.echo(
            json.dumps(
                {
                    "name": credentials.name,
                    "client_id": credentials.client_id,
                    "client_secret": credentials.client_secret,
                }
            )
        )
    else:
        click.echo(f"client_id:     {credentials.client_id}")
        click.echo(f"client_secret: {credentials.client_secret}")


DEFAULT_CATALOGUE = (
    Path(__file__).resolve().parent.parent / "data" / "market_attributes_catalogue.csv"
)


@main.group(help="The attribute catalogue buyers choose from.")
def catalogue() -> None:
    pass


@catalogue.command("load", help="Load the catalogue file (default: the published one).")
@click.argument("file", required=False, type=click.Path(exists=True, dir_okay=False))
def catalogue_load(file: str | None) -> None:
    from passemarche.adapters.catalogue_csv import CatalogueFileError, read_catalogue_file
    from passemarche.services.catalogue import load_catalogue

    path = Path(file) if file else DEFAULT_CATALOGUE
    container = _container()  # maps the entities before the file makes any
    try:
        parsed = read_catalogue_file(path)
    except CatalogueFileError as error:
        click.echo(f"error: {path}: {error} (nothing was changed)", err=True)
        sys.exit(1)
    report = load_catalogue(
        container.uow(), container.clock, parsed.categories, parsed.subcategories, parsed.attributes
    )
    for skipped in parsed.skipped:
        click.echo(f"skipped {skipped}", err=True)
    click.echo(
        f"catalogue loaded from {path.name}: {report.created} created, {report.updated} updated, "
        f"{report.archived} archived, {report.unchanged} unchanged, {len(parsed.skipped)} skipped"
    )


@main.command(help="Serve the application with gunicorn.")
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=5000, show_default=True, type=int)
@click.option("--workers", type=int, help="Default: WEB_CONCURRENCY with Redis, else 1.")
def serve(host: str, port: int, workers: int | None) -> None:
    config = Config.from_env()
    if workers is None:
        # Without Redis the rate-limit counters live in the process: one process keeps them exact.
        workers = config.web_concurrency if config.redis_url else 1
    argv = [
        sys.executable,
        "-m",
        "gunicorn",
        "--bind",
        f"{host}:{port}",
        "--workers",
        str(workers),
        "--worker-class",
        "gthread",
        "--threads",
        "4",
        "--timeout",
        "120",
        "--no-control-socket",  # several servers on one machine would share its path
        # X-Forwarded-* only from a trusted proxy (TRUST_PROXY_HEADERS: ProxyFix in the app).
        "--forwarded-allow-ips",
        "*" if config.trust_proxy_headers else "",
        "passemarche.entrypoints.app:create_app()",
    ]
    click.echo(f"Passe Marché on http://{host}:{port} ({workers} worker(s))", err=True)
    os.execv(sys.executable, argv)  # noqa: S606  (replace this process with gunicorn)


@main.command(help="Run a background job worker (RQ, with its scheduler) on REDIS_URL.")
@click.option("--queue", "queues", multiple=True, help="Default: JOB_QUEUE (default).")
@click.option("--burst", is_flag=True, help="Stop when the queues are empty.")
def worker(queues: tuple[str, ...], burst: bool) -> None:
    config = Config.from_env()
    if not config.redis_url:
        click.echo(
            "error: REDIS_URL is not set; the embedded default runs its jobs inside the web "
            "process, so there is nothing for a worker to do",
            err=True,
        )
        sys.exit(1)
    from passemarche.entrypoints.jobs import worker_container
    from redis import Redis
    from rq import Queue, Worker

    worker_container()  # built once here, inherited by every job's forked process
    queues = queues or (config.job_queue,)
    connection = Redis.from_url(config.redis_url)
    rq_worker = Worker(
        [Queue(name, connection=connection) for name in queues], connection=connection
    )
    rq_worker.work(with_scheduler=True, burst=burst)


main.add_command(webhooks)


if __name__ == "__main__":
    main()
