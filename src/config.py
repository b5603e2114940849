"""Configuration read from the environment, once, into one object.

Every variable is documented in the README's configuration table. No secret has a default in
production; in development and tests a random secret key is generated and kept under `var/`.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path

from passemarche.domain.uploads import DEFAULT_MAX_UPLOAD_BYTES, MIB
from passemarche.domain.webhook import DEFAULT_RETRY_DELAYS


class ConfigError(RuntimeError):
    pass


def _base_url(value: str | None) -> str | None:
    return (value or "").strip().rstrip("/") or None


def _flag(value: str | None, default: bool = False) -> bool:
    if value is None or value == "":
        return default
    return value.strip().lower() in ("1", "true", "yes", "on")


@dataclass(frozen=True)
class Config:
    environment: str = "development"
    var_dir: Path = Path("var")
    database_url: str = ""
    redis_url: str | None = None
    secret_key: str = field(default="", repr=False)
    public_base_url: str | None = None
    trust_proxy_headers: bool = False
    storage_dir: Path = Path("var/storage")
    rate_limit_token: str = "60/hour"  # noqa: S105  (a rate, not a secret)
    rate_limit_api: str = "1000/hour"
    rate_limit_downloads: str = "100/hour"
    rate_limit_key_prefix: str = "passemarche"
    max_json_body_bytes: int = 1024 * 1024
    log_level: str = "INFO"
    web_concurrency: int = 2
    allow_private_webhook_targets: bool = False
    webhook_retry_delays: tuple[float, ...] = DEFAULT_RETRY_DELAYS
    job_queue: str = "default"
    dsfr_dir: Path | None = None
    storage_url: str | None = None  # "s3://bucket/prefix"; unset: the local STORAGE_DIR
    s3_endpoint_url: str | None = None  # MinIO, Scaleway, OVH…; unset: AWS
    s3_region: str | None = None
    session_lifetime_hours: int = 8
    max_upload_bytes: int = DEFAULT_MAX_UPLOAD_BYTES
    upload_temp_dir: Path | None = None
    clamd_url: str | None = None
    clamd_timeout: float = 120.0
    smtp_url: str | None = field(default=None, repr=False)  # may hold a password
    mail_from: str = "Passe Marché <ne-pas-repondre@passemarche.local>"
    outbox_dir: Path | None = None  # unset: var_dir / "outbox"
    # Pre-fill data sources: each is off (its attributes typed by hand) until configured.
    api_entreprise_base_url: str | None = None  # e.g. https://entreprise.api.gouv.fr
    api_entreprise_token: str | None = field(default=None, repr=False)
    bodacc_base_url: str | None = None  # e.g. https://bodacc-datadila.opendatasoft.com
    prefill_deadline_seconds: float = 90.0  # the status page never waits longer

    @property
    def is_production(self) -> bool:
        return self.environment == "production"

    @property
    def rate_limit_storage_uri(self) -> str:
        return self.redis_url or "memory://"

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Config:
        env = os.environ if env is None else env
        environment = env.get("PASSEMARCHE_ENV", "development")
        var_dir = Path(env.get("VAR_DIR", "var"))
        database_url = (
            env.get("DATABASE_URL") or f"sqlite:///{(var_dir / 'passemarche.sqlite3').resolve()}"
        )
        secret_key = env.get("SECRET_KEY", "")
        if not secret_key:
            if environment == "production":
                raise ConfigError("SECRET_KEY must be set in production")
            secret_key = _local_secret_key(var_dir)
        config = cls(
            environment=environment,
            var_dir=var_dir,
            database_url=database_url,
            redis_url=env.get("REDIS_URL") or None,
            secret_key=secret_key,
            public_base_url=(env.get("PUBLIC_BASE_URL") or "").rstrip("/") or None,
            trust_proxy_headers=_flag(env.get("TRUST_PROXY_HEADERS")),
            storage_dir=Path(env.get("STORAGE_DIR") or var_dir / "storage"),
            rate_limit_token=env.get("RATE_LIMIT_TOKEN", cls.rate_limit_token),
            rate_limit_api=env.get("RATE_LIMIT_API", cls.rate_limit_api),
            rate_limit_downloads=env.get("RATE_LIMIT_DOWNLOADS", cls.rate_limit_downloads),
            rate_limit_key_prefix=env.get("RATE_LIMIT_KEY_PREFIX", cls.rate_limit_key_prefix),
            log_level=env.get("LOG_LEVEL", "INFO"),
            web_concurrency=int(env.get("WEB_CONCURRENCY", "2")),
            allow_private_webhook_targets=_flag(env.get("ALLOW_PRIVATE_WEBHOOK_TARGETS")),
            webhook_retry_delays=_delays(env.get("WEBHOOK_RETRY_DELAYS")),
            job_queue=env.get("JOB_QUEUE") or cls.job_queue,
            dsfr_dir=Path(env["DSFR_DIR"]) if env.get("DSFR_DIR") else None,
            storage_url=(env.get("STORAGE_URL") or "").strip() or None,
            s3_endpoint_url=(env.get("S3_ENDPOINT_URL") or "").strip() or None,
            s3_region=(env.get("S3_REGION") or "").strip() or None,
            session_lifetime_hours=int(env.get("SESSION_LIFETIME_HOURS", "8")),
            max_upload_bytes=_upload_limit(env.get("MAX_UPLOAD_MB")),
            upload_temp_dir=Path(env["UPLOAD_TMP_DIR"]) if env.get("UPLOAD_TMP_DIR") else None,
            clamd_url=(env.get("CLAMD_URL") or "").strip() or None,
            clamd_timeout=float(env.get("CLAMD_TIMEOUT") or "120"),
            smtp_url=(env.get("SMTP_URL") or "").strip() or None,
            mail_from=(env.get("MAIL_FROM") or "").strip() or cls.mail_from,
            outbox_dir=Path(env["OUTBOX_DIR"]) if env.get("OUTBOX_DIR") else None,
            api_entreprise_base_url=_base_url(env.get("API_ENTREPRISE_BASE_URL")),
            api_entreprise_token=(env.get("API_ENTREPRISE_TOKEN") or "").strip() or None,
            bodacc_base_url=_base_url(env.get("BODACC_BASE_URL")),
            prefill_deadline_seconds=float(env.get("PREFILL_DEADLINE_SECONDS") or "90"),
        )
        if config.is_production and config.database_url.startswith("sqlite"):
            raise ConfigError("DATABASE_URL must point at PostgreSQL in production")
        if config.is_production and not config.public_base_url:
            # Links sent to buyers and candidates must not follow a request's Host header.
            raise ConfigError("PUBLIC_BASE_URL must be set in production")
        return config

    def but(self, **changes: object) -> Config:
        return replace(self, **changes)  # type: ignore[arg-type]


def _delays(value: str | None) -> tuple[float, ...]:
    """Seconds between webhook attempts, comma-separated ("30,120,600"); unset: the default."""
    if value is None or not value.strip():
        return DEFAULT_RETRY_DELAYS
    try:
        delays = tuple(float(part) for part in value.split(","))
    except ValueError:
        raise ConfigError("WEBHOOK_RETRY_DELAYS must be comma-separated seconds") from None
    if not all(0 <= delay < float("inf") for delay in delays):
        raise ConfigError("WEBHOOK_RETRY_DELAYS must be finite, non-negative seconds")
    return delays


def _upload_limit(value: str | None) -> int:
    """MAX_UPLOAD_MB: whole binary megabytes (clamd counts the same way); unset: 100."""
    if value is None or not value.strip():
        return DEFAULT_MAX_UPLOAD_BYTES
    try:
        megabytes = int(value)
    except ValueError:
        raise ConfigError("MAX_UPLOAD_MB must be a whole number of megabytes") from None
    if megabytes < 1:
        raise ConfigError("MAX_UPLOAD_MB must be at least 1")
    return megabytes * MIB


def _local_secret_key(var_dir: Path) -> str:
    """A random key kept in var/ so links stay valid across restarts of a development server."""
    path = var_dir / "secret_key"
    if path.exists():
        return path.read_text().strip()
    var_dir.mkdir(parents=True, exist_ok=True)
    key = secrets.token_urlsafe(48)
    path.write_text(key)
    path.chmod(0o600)
    return key
