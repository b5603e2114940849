"""Mailers for real: the outbox writes readable .eml files, and SmtpMailer talks to an SMTP
server started here (a minimal one: EHLO, AUTH PLAIN, MAIL, RCPT, DATA, RSET, NOOP, QUIT)."""

from __future__ import annotations

import base64
import logging
import socket
import socketserver
import stat
import threading
from dataclasses import dataclass, field
from email import message_from_bytes
from email.policy import default as default_policy

import pytest
from passemarche.adapters.mail import (
    SMTP_TIMEOUT,
    OutboxMailer,
    SmtpMailer,
    mailer_from_config,
)
from passemarche.config import Config
from passemarche.services.ports import MailMessage, MailNotSent

SENDER = "Passe Marché <ne-pas-repondre@passemarche.local>"
TOKEN = "Zs9v_-secret-token-AbCdEfGhIjKlMnOpQrStUvWxYz0123"
TEXT = (
    "Bonjour,\n\nReprenez votre candidature au marché « Équipements – lot n° 2 » :\n"
    f"https://passemarche.example.fr/verify?token={TOKEN}\n\n"
    ".Une ligne qui commence par un point, et une très longue ligne "
    + "à" * 120
    + "\n\nL’équipe Passe Marché\n"
)
MESSAGE = MailMessage(
    to="marie.dupont@example.fr", subject="Votre lien de connexion à Passe Marché", text=TEXT
)


def parsed(raw: bytes):
    return message_from_bytes(raw, policy=default_policy)


def assert_is_our_mail(mail) -> None:
    assert mail["From"] == SENDER
    assert mail["To"] == "marie.dupont@example.fr"
    assert mail["Subject"] == "Votre lien de connexion à Passe Marché"
    assert mail["Message-ID"].endswith("@passemarche.local>")
    assert mail["Date"]
    assert mail.get_content_type() == "text/plain"
    assert mail.get_content_charset() == "utf-8"
    assert mail.get_content().replace("\r\n", "\n") == TEXT  # CRLF on the wire


class TestOutboxMailer:
    def test_each_mail_is_a_readable_utf8_eml_file(self, tmp_path):
        outbox = tmp_path / "outbox"
        OutboxMailer(outbox, SENDER).send(MESSAGE)

        [written] = list(outbox.iterdir())  # no temporary file left behind
        assert written.suffix == ".eml"
        raw = written.read_bytes()
        raw.decode("ascii")  # 7-bit on disk: quoted-printable body, encoded headers
        assert_is_our_mail(parsed(raw))

    def test_the_file_is_private_and_the_log_line_has_no_token(self, tmp_path, caplog):
        caplog.set_level(logging.INFO, logger="passemarche.mail")
        OutboxMailer(tmp_path, SENDER).send(MESSAGE)

        [written] = list(tmp_path.iterdir())
        assert stat.S_IMODE(written.stat().st_mode) == 0o600
        assert [record.getMessage() for record in caplog.records] == [f"mail written to {written}"]
        assert TOKEN not in caplog.text

    def test_two_mails_make_two_files(self, tmp_path):
        mailer = OutboxMailer(tmp_path, SENDER)
        mailer.send(MESSAGE)
        mailer.send(MESSAGE)

        assert len(list(tmp_path.glob("*.eml"))) == 2


# A minimal SMTP server -------------------------------------------------------------------------


@dataclass
class Received:
    sender: str
    recipients: list[str]
    data: bytes
    login: tuple[str, str] | None


@dataclass
class ServerState:
    received: list[Received] = field(default_factory=list)
    refuse_recipients: bool = False


class SmtpHandler(socketserver.StreamRequestHandler):
    state: ServerState

    def reply(self, *lines: str) -> None:
        for index, line in enumerate(lines):
            separator = " " if index == len(lines) - 1 else "-"
            code, text = line.split(" ", 1)
            self.wfile.write(f"{code}{separator}{text}\r\n".encode())
        self.wfile.flush()

    def handle(self) -> None:
        state = self.server.state  # type: ignore[attr-defined]
        sender, recipients, login = "", [], None
        self.reply("220 test.local ESMTP ready")
        while line := self.rfile.readline():
            command = line.decode("utf-8", "replace").rstrip("\r\n")
            verb, _, argument = command.partition(" ")
            verb = verb.upper()
            if verb == "EHLO":
                self.reply("250 test.local", "250 8BITMIME", "250 AUTH PLAIN")
            elif verb == "HELO" or verb == "NOOP":
                self.reply("250 OK")
            elif verb == "AUTH":
                _, user, password = base64.b64decode(argument.split()[1]).split(b"\0")
                login = (user.decode(), password.decode())
                self.reply("235 Authentication successful")
            elif verb == "MAIL":
                sender = argument.split(":", 1)[1].split()[0].strip("<>")
                recipients = []
                self.reply("250 OK")
            elif verb == "RCPT":
                if state.refuse_recipients:
                    self.reply("550 No such user")
                    continue
                recipients.append(argument.split(":", 1)[1].strip().strip("<>"))
                self.reply("250 OK")
            elif verb == "DATA":
                self.reply("354 End data with <CR><LF>.<CR><LF>")
                lines = []
                while (data := self.rfile.readline()) != b".\r\n":
                    lines.append(data[1:] if data.startswith(b".") else data)  # unstuff dots
                state.received.append(Received(sender, recipients, b"".join(lines), login))
                self.reply("250 OK queued")
            elif verb == "RSET":
                sender, recipients = "", []
                self.reply("250 OK")
            elif verb == "QUIT":
                self.reply("221 Bye")
                return
            else:
                self.reply("502 Command not implemented")


class SmtpServer(socketserver.ThreadingTCPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), SmtpHandler)
        self.state = ServerState()


@pytest.fixture
def smtp_server():
    server = SmtpServer()
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()
    thread.join(timeout=5)


def url_of(server: SmtpServer, credentials: str = "", query: str = "") -> str:
    host, port = server.server_address[:2]
    return f"smtp://{credentials}{host}:{port}{query}"


class TestSmtpMailer:
    def test_a_real_smtp_server_receives_the_mail(self, smtp_server):
        SmtpMailer.from_url(url_of(smtp_server), SENDER).send(MESSAGE)

        [received] = smtp_server.state.received
        assert received.sender == "ne-pas-repondre@passemarche.local"
        assert received.recipients == ["marie.dupont@example.fr"]
        assert received.login is None
        assert_is_our_mail(parsed(received.data))

    def test_credentials_from_the_url_are_used_decoded(self, smtp_server):
        url = url_of(smtp_server, credentials="relay%40example.fr:p%40ss%3Aw0rd@")
        SmtpMailer.from_url(url, SENDER).send(MESSAGE)

        [received] = smtp_server.state.received
        assert received.login == ("relay@example.fr", "p@ss:w0rd")

    def test_a_refused_recipient_is_mail_not_sent(self, smtp_server):
        smtp_server.state.refuse_recipients = True

        with pytest.raises(MailNotSent):
            SmtpMailer.from_url(url_of(smtp_server), SENDER).send(MESSAGE)

    def test_starttls_asked_but_not_offered_is_never_sent_in_clear(self, smtp_server):
        with pytest.raises(MailNotSent):
            SmtpMailer.from_url(url_of(smtp_server, query="?starttls=1"), SENDER).send(MESSAGE)
        assert smtp_server.state.received == []

    def test_an_unreachable_server_is_mail_not_sent(self):
        with socket.socket() as probe:  # a port nobody listens on
            probe.bind(("127.0.0.1", 0))
            port = probe.getsockname()[1]
        with pytest.raises(MailNotSent) as failure:
            SmtpMailer.from_url(f"smtp://127.0.0.1:{port}", SENDER).send(MESSAGE)
        assert TOKEN not in str(failure.value)


class TestConfiguration:
    @pytest.mark.parametrize(
        ("url", "expected"),
        [
            ("smtp://mail.example.fr", ("mail.example.fr", 25, False, False, None, None)),
            (
                "smtp://u:p@mail.example.fr:2525?starttls=1",
                ("mail.example.fr", 2525, False, True, "u", "p"),
            ),
            (
                "smtp://mail.example.fr?starttls=1",
                ("mail.example.fr", 587, False, True, None, None),
            ),
            ("smtps://mail.example.fr", ("mail.example.fr", 465, True, False, None, None)),
        ],
    )
    def test_smtp_urls(self, url, expected):
        mailer = SmtpMailer.from_url(url, SENDER)
        assert (
            mailer.host,
            mailer.port,
            mailer.implicit_tls,
            mailer.starttls,
            mailer.username,
            mailer.password,
        ) == expected
        assert mailer.timeout == SMTP_TIMEOUT == 10.0

    @pytest.mark.parametrize("url", ["http://mail.example.fr", "smtp://", "mail.example.fr:25"])
    def test_other_urls_are_refused(self, url):
        with pytest.raises(ValueError):
            SmtpMailer.from_url(url, SENDER)

    def test_the_password_stays_out_of_reprs(self):
        mailer = SmtpMailer.from_url("smtp://u:hunter2@mail.example.fr", SENDER)
        config = Config.from_env(
            {"SMTP_URL": "smtp://u:hunter2@mail.example.fr", "SECRET_KEY": "k"}
        )
        assert "hunter2" not in repr(mailer) and "hunter2" not in repr(config)

    def test_the_outbox_is_the_default_under_var(self, tmp_path):
        config = Config.from_env({"VAR_DIR": str(tmp_path), "SECRET_KEY": "k"})
        mailer = mailer_from_config(config)

        assert isinstance(mailer, OutboxMailer)
        assert mailer.directory == tmp_path / "outbox"
        assert mailer.sender == "Passe Marché <ne-pas-repondre@passemarche.local>"

    def test_smtp_and_sender_come_from_the_environment(self, tmp_path):
        config = Config.from_env(
            {
                "VAR_DIR": str(tmp_path),
                "SECRET_KEY": "k",
                "SMTP_URL": "smtps://relay.example.fr",
                "MAIL_FROM": "Plateforme <pm@example.fr>",
                "OUTBOX_DIR": str(tmp_path / "elsewhere"),
            }
        )
        assert config.outbox_dir == tmp_path / "elsewhere"
        mailer = mailer_from_config(config)
        assert isinstance(mailer, SmtpMailer)
        assert (mailer.host, mailer.sender) == ("relay.example.fr", "Plateforme <pm@example.fr>")
