"""The antivirus port against a real clamd: Debian's daemon started for this run with a one-line
database (the EICAR test file's MD5), its own socket and limits (tests/clamav/clamd.conf.template).
Skipped with a reason when clamd is not installed (`make clamav`), mandatory under CI."""

from __future__ import annotations

import io
import os
import shutil
import socket
import string
import subprocess
import tempfile
import threading
import time
import tracemalloc
from collections.abc import Iterator
from pathlib import Path

import pytest
from passemarche.adapters.antivirus import (
    ClamdScanner,
    NoAntivirus,
    parse_reply,
    scanner_from_url,
)
from passemarche.adapters.uploads import UploadReceiver
from passemarche.services.ports import ScanResult, ScanVerdict

from tests.conftest import service_unavailable

MIB = 1024 * 1024
DAEMON_LIMIT_MIB = 64
TEMPLATE = Path(__file__).resolve().parents[1] / "clamav" / "clamd.conf.template"
# Split so that this source file is not itself the test virus.
EICAR = b"X5O!P%@AP[4\\PZX54(P^)7CC)7}$EICAR-" + b"STANDARD-ANTIVIRUS-TEST-FILE!$H+H*"
SIGNATURE = "Eicar-Test-Signature.UNOFFICIAL"  # the name sigtool gave, plus clamd's suffix
CLEAN_PDF = (
    b"%PDF-1.4\n1 0 obj<</Type/Catalog/Pages 2 0 R>>endobj\n"
    b"2 0 obj<</Type/Pages/Kids[]/Count 0>>endobj\ntrailer<</Root 1 0 R>>\n%%EOF\n"
)


def _program(name: str) -> str | None:
    found = shutil.which(name)
    for folder in ("/usr/sbin", "/usr/bin"):
        candidate = Path(folder) / name
        if not found and os.access(candidate, os.X_OK):
            found = str(candidate)
    return found


@pytest.fixture(scope="session")
def clamd_socket() -> Iterator[str]:
    """A clamd of our own, ready to scan, stopped at the end of the session."""
    clamd, sigtool = _program("clamd"), _program("sigtool")
    if clamd is None or sigtool is None:
        service_unavailable("clamd", FileNotFoundError("clamd/sigtool not installed: make clamav"))
    assert clamd is not None and sigtool is not None
    # A short folder: a UNIX socket path must stay under 108 bytes.
    folder = Path(tempfile.mkdtemp(prefix="pm-clamd-"))
    process: subprocess.Popen[str] | None = None
    try:
        socket_path = _prepare(folder, sigtool)
        process = subprocess.Popen(
            [clamd, "--config-file", str(folder / "clamd.conf")],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
        )
        scanner = ClamdScanner(str(socket_path), timeout=5)
        deadline = time.monotonic() + 30
        while not scanner.ping():
            if process.poll() is not None or time.monotonic() > deadline:
                log = folder / "clamd.log"
                said = (log.read_text() if log.exists() else "").strip().splitlines()[-3:]
                service_unavailable("clamd", RuntimeError(f"did not start: {' | '.join(said)}"))
            time.sleep(0.05)
        yield str(socket_path)
    finally:
        if process is not None:
            process.terminate()
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        shutil.rmtree(folder, ignore_errors=True)


def _prepare(folder: Path, sigtool: str) -> Path:
    """The one-line database and the configuration; returns where the socket will be."""
    database = folder / "db"
    database.mkdir()
    sample = folder / "Eicar-Test-Signature"
    sample.write_bytes(EICAR)
    signature = subprocess.run(
        [sigtool, "--md5", sample.name], cwd=folder, capture_output=True, check=True, text=True
    ).stdout
    (database / "local.hdb").write_text(signature)
    sample.unlink()
    socket_path = folder / "clamd.sock"
    (folder / "clamd.conf").write_text(
        string.Template(TEMPLATE.read_text()).substitute(
            socket=socket_path,
            database=database,
            temporary=folder,
            log=folder / "clamd.log",
            limit=f"{DAEMON_LIMIT_MIB}M",
        )
    )
    return socket_path


@pytest.fixture
def scanner(clamd_socket: str) -> ClamdScanner:
    return ClamdScanner(f"unix://{clamd_socket}", timeout=30)


class Generated(io.RawIOBase):
    """`size` zero bytes made on the fly, counting the largest read."""

    def __init__(self, size: int) -> None:
        self.remaining = size
        self.largest_read = 0

    def readable(self) -> bool:
        return True

    def read(self, size: int = -1) -> bytes:
        size = self.remaining if size < 0 else min(size, self.remaining)
        self.remaining -= size
        self.largest_read = max(self.largest_read, size)
        return bytes(size)


class TestAgainstTheDaemon:
    def test_answers_ping_and_version(self, scanner):
        assert scanner.ping() is True
        assert (scanner.version() or "").startswith("ClamAV ")

    def test_the_eicar_file_is_infected_with_its_signature_name(self, scanner):
        assert scanner.scan(io.BytesIO(EICAR)) == ScanResult(
            ScanVerdict.INFECTED, signature=SIGNATURE
        )

    def test_a_clean_pdf_is_clean(self, scanner):
        assert scanner.scan(io.BytesIO(CLEAN_PDF)) == ScanResult(ScanVerdict.CLEAN)

    def test_an_eicar_text_upload_is_accepted_as_text_then_caught_by_the_scan(
        self, scanner, tmp_path
    ):
        receiver = UploadReceiver(temp_dir=tmp_path)
        with receiver.receive("notes.txt", io.BytesIO(EICAR)) as upload, upload.open() as file:
            assert scanner.scan(file).verdict is ScanVerdict.INFECTED

    def test_a_stream_over_the_daemon_limit_fails_and_is_never_clean(self, scanner):
        result = scanner.scan(Generated((DAEMON_LIMIT_MIB + 1) * MIB))
        assert result.verdict is ScanVerdict.FAILED
        assert "size limit exceeded" in (result.detail or "")

    def test_a_50_mb_file_is_streamed_in_chunks_with_flat_memory(self, scanner, tmp_path):
        path = tmp_path / "gros.pdf"
        with path.open("wb") as file:
            file.write(CLEAN_PDF)
            for _ in range(50):
                file.write(bytes(MIB))
        tracemalloc.start()
        try:
            with path.open("rb") as file:
                result = scanner.scan(file)
            _, peak = tracemalloc.get_traced_memory()
        finally:
            tracemalloc.stop()
        assert result == ScanResult(ScanVerdict.CLEAN)
        assert peak < 2 * MIB, f"peak {peak / MIB:.1f} MiB to scan 50 MiB"

    def test_reads_the_stream_a_chunk_at_a_time(self, clamd_socket):
        stream = Generated(10 * MIB)
        scanner = ClamdScanner(clamd_socket, chunk_size=64 * 1024)
        assert scanner.scan(stream).verdict is ScanVerdict.CLEAN
        assert stream.largest_read == 64 * 1024


class TestWhenTheDaemonCannotAnswer:
    def test_no_socket_fails(self, tmp_path):
        scanner = ClamdScanner(str(tmp_path / "absent.sock"))
        result = scanner.scan(io.BytesIO(CLEAN_PDF))
        assert result.verdict is ScanVerdict.FAILED
        assert "unreachable" in (result.detail or "")
        assert scanner.ping() is False
        assert scanner.version() is None

    def test_a_stale_socket_fails(self, tmp_path):
        path = tmp_path / "stale.sock"
        with socket.socket(socket.AF_UNIX) as server:
            server.bind(str(path))  # bound, never listening: what a dead daemon leaves
            result = ClamdScanner(str(path)).scan(io.BytesIO(CLEAN_PDF))
        assert result.verdict is ScanVerdict.FAILED

    def test_a_closed_tcp_port_fails(self):
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            port = probe.getsockname()[1]
        result = ClamdScanner(f"tcp://127.0.0.1:{port}").scan(io.BytesIO(CLEAN_PDF))
        assert result.verdict is ScanVerdict.FAILED

    def test_a_daemon_that_stops_between_two_scans_fails(self, tmp_path):
        with FakeDaemon(tmp_path, reply=b"stream: OK\0") as daemon:
            scanner = ClamdScanner(daemon.address)
            assert scanner.scan(io.BytesIO(CLEAN_PDF)).verdict is ScanVerdict.CLEAN
        assert scanner.scan(io.BytesIO(CLEAN_PDF)).verdict is ScanVerdict.FAILED

    def test_a_silent_daemon_times_out_and_fails(self, tmp_path):
        with FakeDaemon(tmp_path, reply=None) as daemon:
            started = time.monotonic()
            result = ClamdScanner(daemon.address, timeout=0.3).scan(io.BytesIO(CLEAN_PDF))
        assert result.verdict is ScanVerdict.FAILED
        assert "timed out" in (result.detail or "")
        assert time.monotonic() - started < 5

    def test_a_connection_closed_without_an_answer_fails(self, tmp_path):
        with FakeDaemon(tmp_path, reply=b"") as daemon:
            result = ClamdScanner(daemon.address).scan(io.BytesIO(CLEAN_PDF))
        assert result.verdict is ScanVerdict.FAILED


class FakeDaemon:
    """A UNIX socket server that reads one INSTREAM and answers `reply` (None: never)."""

    def __init__(self, folder: Path, reply: bytes | None) -> None:
        self.address = str(folder / "fake.sock")
        self.reply = reply
        self.server = socket.socket(socket.AF_UNIX)
        self.server.bind(self.address)
        self.server.listen()
        self.server.settimeout(0.05)
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._serve, daemon=True)

    def __enter__(self) -> FakeDaemon:
        self.thread.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop.set()
        self.server.close()
        self.thread.join(timeout=5)
        Path(self.address).unlink(missing_ok=True)

    def _serve(self) -> None:
        while not self.stop.is_set():
            try:
                connection, _ = self.server.accept()
            except TimeoutError:
                continue  # look at `stop` again: closing the socket does not wake accept()
            except OSError:
                return
            with connection:
                connection.settimeout(2)
                received = b""
                try:
                    while not received.endswith(b"\0\0\0\0"):
                        data = connection.recv(65536)
                        if not data:
                            break
                        received += data
                    if self.reply is not None:
                        connection.sendall(self.reply)
                    else:
                        self.stop.wait(2)
                except OSError:
                    pass


class TestRepliesAndConfiguration:
    @pytest.mark.parametrize(
        ("reply", "expected"),
        [
            ("stream: OK", ScanResult(ScanVerdict.CLEAN)),
            (
                "stream: Win.Test.EICAR_HDB-1 FOUND",
                ScanResult(ScanVerdict.INFECTED, signature="Win.Test.EICAR_HDB-1"),
            ),
            (
                "stream: Heuristics.Limits.Exceeded.MaxFileSize FOUND",
                ScanResult(
                    ScanVerdict.FAILED,
                    detail="clamd could not scan the whole file: "
                    "Heuristics.Limits.Exceeded.MaxFileSize",
                ),
            ),
            (
                "INSTREAM size limit exceeded. ERROR",
                ScanResult(ScanVerdict.FAILED, detail="clamd error: INSTREAM size limit exceeded."),
            ),
            (
                "",
                ScanResult(
                    ScanVerdict.FAILED, detail="clamd closed the connection without an answer"
                ),
            ),
            (
                "COMMAND READ TIMED OUT",
                ScanResult(
                    ScanVerdict.FAILED, detail="unexpected clamd answer: COMMAND READ TIMED OUT"
                ),
            ),
        ],
    )
    def test_every_answer_short_of_ok_or_found_fails(self, reply, expected):
        assert parse_reply(reply) == expected

    def test_no_antivirus_says_not_scanned(self):
        result = NoAntivirus().scan(io.BytesIO(EICAR))
        assert result.verdict is ScanVerdict.NOT_SCANNED

    @pytest.mark.parametrize(
        ("url", "kind"),
        [
            (None, NoAntivirus),
            ("", NoAntivirus),
            ("unix:///run/clamav/clamd.ctl", ClamdScanner),
            ("/run/clamav/clamd.ctl", ClamdScanner),
            ("tcp://clamav.internal:3310", ClamdScanner),
        ],
    )
    def test_the_scanner_follows_the_setting(self, url, kind):
        assert isinstance(scanner_from_url(url), kind)

    def test_a_tcp_address_defaults_to_port_3310(self):
        assert ClamdScanner("tcp://clamav.internal").target == ("clamav.internal", 3310)

    def test_an_unknown_address_is_a_configuration_error(self):
        with pytest.raises(ValueError, match="clamd address"):
            ClamdScanner("http://clamav:3310")
