"""The composition root: builds every adapter from the configuration, once per process."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from passemarche.adapters.antivirus import scanner_from_url
from passemarche.adapters.capabilities import HmacCapabilitySigner
from passemarche.adapters.clock import SystemClock
from passemarche.adapters.data_sources import data_sources_from_config
from passemarche.adapters.database import create_database_engine
from passemarche.adapters.documents import FpdfDocumentRenderer, ZipPackageBuilder
from passemarche.adapters.file_storage import LocalFileStorage
from passemarche.adapters.job_queue import InProcessJobQueue, RqJobQueue
from passemarche.adapters.mail import mailer_from_config
from passemarche.adapters.orm import start_mappers
from passemarche.adapters.unit_of_work import SqlAlchemyUnitOfWork, session_factory_for
from passemarche.adapters.uploads import UploadReceiver
from passemarche.adapters.webhook_sender import RequestsWebhookSender, WebhookTargetGuard
from passemarche.config import Config
from passemarche.domain.webhook import RetrySchedule
from passemarche.services.ports import (
    CapabilitySigner,
    Clock,
    CompanyDataSource,
    DocumentRenderer,
    FileStorage,
    JobQueue,
    Mailer,
    PackageBuilder,
    VirusScanner,
    WebhookSender,
)
from passemarche.services.unit_of_work import AbstractUnitOfWork
from passemarche.services.webhooks import TargetPolicy
from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

IN_PROCESS_JOB_THREADS = 8


@dataclass
class Container:
    config: Config
    engine: Engine
    session_factory: sessionmaker[Session]
    clock: Clock
    storage: FileStorage
    signer: CapabilitySigner
    jobs: JobQueue
    webhook_sender: WebhookSender
    webhook_targets: TargetPolicy
    retry_schedule: RetrySchedule
    scanner: VirusScanner
    uploads: UploadReceiver
    renderer: DocumentRenderer
    packager: PackageBuilder
    mailer: Mailer
    data_sources: CompanyDataSource
    redis: Any | None = None

    def uow(self) -> AbstractUnitOfWork:
        return SqlAlchemyUnitOfWork(self.session_factory)

    def ping_redis(self) -> None:
        if self.redis is not None:
            self.redis.ping()


def _storage(config: Config) -> FileStorage:
    """S3-compatible object storage when STORAGE_URL is s3://bucket/prefix (credentials from the
    standard AWS_* variables), else the local folder."""
    if config.storage_url and config.storage_url.startswith("s3://"):
        from passemarche.adapters.s3_storage import S3FileStorage

        parts = urlsplit(config.storage_url)
        return S3FileStorage(
            parts.netloc,
            endpoint_url=config.s3_endpoint_url,
            region=config.s3_region,
            prefix=parts.path.strip("/"),
        )
    return LocalFileStorage(config.storage_dir)


def bootstrap(config: Config, *, clock: Clock | None = None) -> Container:
    start_mappers()
    engine = create_database_engine(config.database_url)
    redis_client = None
    if config.redis_url:
        import redis

        redis_client = redis.Redis.from_url(config.redis_url, socket_timeout=5)

    def run_in_process(job: str, *args: str) -> None:
        from passemarche.entrypoints.jobs import run_job

        run_job(container, job, *args)

    jobs: JobQueue = (
        RqJobQueue(redis_client, config.job_queue)
        if redis_client is not None
        # Pre-fill runs one job per data source, mostly waiting on the network: enough threads
        # for the sources of one application to run side by side.
        else InProcessJobQueue(run_in_process, workers=IN_PROCESS_JOB_THREADS)
    )
    container = Container(
        config=config,
        engine=engine,
        session_factory=session_factory_for(engine),
        clock=clock or SystemClock(),
        storage=_storage(config),
        signer=HmacCapabilitySigner(config.secret_key),
        jobs=jobs,
        webhook_sender=RequestsWebhookSender(),
        webhook_targets=WebhookTargetGuard(
            require_https=config.is_production,
            allow_private=config.allow_private_webhook_targets,
        ),
        retry_schedule=RetrySchedule(config.webhook_retry_delays),
        scanner=scanner_from_url(config.clamd_url, timeout=config.clamd_timeout),
        renderer=FpdfDocumentRenderer(),
        packager=ZipPackageBuilder(),
        mailer=mailer_from_config(config),
        data_sources=data_sources_from_config(config),
        uploads=UploadReceiver(
            max_bytes=config.max_upload_bytes,
            temp_dir=config.upload_temp_dir or config.var_dir / "tmp" / "uploads",
        ),
        redis=redis_client,
    )
    return container
