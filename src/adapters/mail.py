"""Mailers: SMTP in production, an outbox folder of .eml files by default (development, tests).

Mails may carry secret links: neither mailer logs a body, a subject or a token.
"""

from __future__ import annotations

import logging
import os
import secrets
import smtplib
import ssl
import tempfile
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid, parseaddr
from pathlib import Path
from urllib.parse import parse_qs, unquote, urlsplit

from passemarche.config import Config
from passemarche.services.ports import Mailer, MailMessage, MailNotSent

log = logging.getLogger("passemarche.mail")

SMTP_TIMEOUT = 10.0  # seconds, per connection and per command


def build_email(message: MailMessage, sender: str) -> EmailMessage:
    """A UTF-8 plain-text mail; quoted-printable keeps it 7-bit for any relay."""
    mail = EmailMessage()
    mail["From"] = sender
    mail["To"] = message.to
    mail["Subject"] = message.subject
    mail["Date"] = format_datetime(datetime.now(UTC))
    domain = parseaddr(sender)[1].rpartition("@")[2] or "passemarche.local"
    mail["Message-ID"] = make_msgid(domain=domain)
    mail.set_content(message.text, charset="utf-8", cte="quoted-printable")
    return mail


@dataclass(frozen=True)
class SmtpMailer:
    host: str
    port: int
    sender: str
    username: str | None = None
    password: str | None = field(default=None, repr=False)
    implicit_tls: bool = False  # smtps://: TLS from the first byte (port 465)
    starttls: bool = False  # smtp://…?starttls=1: upgrade the plain connection (port 587)
    timeout: float = SMTP_TIMEOUT

    @classmethod
    def from_url(cls, url: str, sender: str, timeout: float = SMTP_TIMEOUT) -> SmtpMailer:
        """`smtp://[user:pass@]host[:port][?starttls=1]` or `smtps://[user:pass@]host[:port]`."""
        parts = urlsplit(url)
        if parts.scheme not in ("smtp", "smtps") or not parts.hostname:
            raise ValueError("SMTP_URL must look like smtp://host:587?starttls=1 or smtps://host")
        implicit_tls = parts.scheme == "smtps"
        query = parse_qs(parts.query)
        starttls = query.get("starttls", ["0"])[-1].strip().lower() in ("1", "true", "yes", "on")
        default_port = 465 if implicit_tls else (587 if starttls else 25)
        return cls(
            host=parts.hostname,
            port=parts.port or default_port,
            sender=sender,
            username=unquote(parts.username) if parts.username else None,
            password=unquote(parts.password) if parts.password else None,
            implicit_tls=implicit_tls,
            starttls=starttls and not implicit_tls,
            timeout=timeout,
        )

    def send(self, message: MailMessage) -> None:
        mail = build_email(message, self.sender)
        try:
            with self._connect() as smtp:
                if self.starttls:
                    smtp.starttls(context=ssl.create_default_context())
                if self.username:
                    smtp.login(self.username, self.password or "")
                smtp.send_message(mail)
        except (smtplib.SMTPException, OSError) as error:
            # The class name only: server replies may echo recipients, never worth logging here.
            raise MailNotSent(f"{type(error).__name__} from {self.host}:{self.port}") from error
        log.info("mail sent through %s:%s", self.host, self.port)

    def _connect(self) -> smtplib.SMTP:
        if self.implicit_tls:
            return smtplib.SMTP_SSL(
                self.host,
                self.port,
                timeout=self.timeout,
                context=ssl.create_default_context(),
            )
        return smtplib.SMTP(self.host, self.port, timeout=self.timeout)


@dataclass(frozen=True)
class OutboxMailer:
    """Writes each mail as `<time>-<random>.eml` in a folder, atomically (a reader never sees
    half a file); the file is readable by its owner only since it may hold a login link."""

    directory: Path
    sender: str

    def send(self, message: MailMessage) -> None:
        mail = build_email(message, self.sender)
        self.directory.mkdir(parents=True, exist_ok=True)
        name = f"{datetime.now(UTC):%Y%m%dT%H%M%S%fZ}-{secrets.token_hex(4)}.eml"
        target = self.directory / name
        descriptor, temporary = tempfile.mkstemp(dir=self.directory, prefix=".", suffix=".tmp")
        try:
            with os.fdopen(descriptor, "wb") as file:
                file.write(mail.as_bytes())
                file.flush()
                os.fsync(file.fileno())
            os.replace(temporary, target)
        except BaseException:
            Path(temporary).unlink(missing_ok=True)
            raise
        log.info("mail written to %s", target)


def mailer_from_config(config: Config) -> Mailer:
    if config.smtp_url:
        return SmtpMailer.from_url(config.smtp_url, sender=config.mail_from)
    return OutboxMailer(config.outbox_dir or config.var_dir / "outbox", sender=config.mail_from)
