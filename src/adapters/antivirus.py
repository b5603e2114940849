"""Antivirus scanners behind the `VirusScanner` port.

`ClamdScanner` speaks clamd's INSTREAM protocol over its UNIX socket or TCP: `zINSTREAM\\0`, then
chunks each preceded by its length (4 bytes, big-endian), then a zero length; clamd answers
`stream: OK`, `stream: <signature> FOUND` or `<reason> ERROR`. The file is read and sent a chunk
at a time, never loaded whole. Anything short of a clear answer (unreachable daemon, timeout,
dropped connection, a limit exceeded) is FAILED, never CLEAN.

`NoAntivirus` is the embedded default: every file is NOT_SCANNED, and the pages say so.
"""

from __future__ import annotations

import socket
import struct
from typing import BinaryIO
from urllib.parse import urlsplit

from passemarche.services.ports import ScanResult, ScanVerdict, VirusScanner

DEFAULT_TIMEOUT = 120.0  # seconds per socket operation; clamd answers only once it has scanned
CHUNK_SIZE = 256 * 1024
_MAX_REPLY = 4096
# clamd reports what it could not scan as a "heuristic" match when AlertExceedsMax is on: a
# file too big to scan whole is undecided, not infected.
_UNDECIDED_SIGNATURES = ("Heuristics.Limits.Exceeded",)


class NoAntivirus:
    """No scanner configured: files are accepted as "non vérifié"."""

    def scan(self, stream: BinaryIO) -> ScanResult:
        return ScanResult(ScanVerdict.NOT_SCANNED, detail="no antivirus configured")

    def ping(self) -> bool:
        return True


class ClamdScanner:
    """clamd at `unix:///run/clamav/clamd.ctl`, `/run/clamav/clamd.ctl` or `tcp://host:3310`."""

    def __init__(
        self,
        address: str,
        *,
        timeout: float = DEFAULT_TIMEOUT,
        connect_timeout: float = 5.0,
        chunk_size: int = CHUNK_SIZE,
    ) -> None:
        self.family, self.target = _parse_address(address)
        self.address = address
        self.timeout = timeout
        self.connect_timeout = connect_timeout
        self.chunk_size = chunk_size

    def __repr__(self) -> str:
        return f"ClamdScanner({self.address!r})"

    def scan(self, stream: BinaryIO) -> ScanResult:
        """Streams `stream` from its current position to its end. Errors reading the stream
        itself (the file being scanned) are not the daemon's and propagate."""
        try:
            connection = self._connect()
        except OSError as error:
            return _failed(f"clamd unreachable at {self.address}: {_describe(error)}")
        with connection:
            dropped: OSError | None = None
            try:
                connection.sendall(b"zINSTREAM\0")
                while chunk := stream.read(self.chunk_size):
                    connection.sendall(struct.pack(">I", len(chunk)))
                    connection.sendall(chunk)
                connection.sendall(b"\0\0\0\0")
            except TimeoutError:
                return _failed(f"clamd timed out after {self.timeout:g} s while receiving")
            except OSError as error:
                # clamd closes the connection on a limit, after writing why: read that below.
                dropped = error
            try:
                reply = _read_reply(connection)
            except TimeoutError:
                return _failed(f"clamd timed out after {self.timeout:g} s while scanning")
            except OSError as error:
                return _failed(f"clamd connection lost: {_describe(dropped or error)}")
        if not reply and dropped is not None:
            return _failed(f"clamd connection lost: {_describe(dropped)}")
        return parse_reply(reply)

    def ping(self) -> bool:
        try:
            with self._connect() as connection:
                connection.sendall(b"zPING\0")
                return _read_reply(connection) == "PONG"
        except OSError:
            return False

    def version(self) -> str | None:
        """`ClamAV 1.4.6/<database version>/<date>`, or None when unreachable."""
        try:
            with self._connect() as connection:
                connection.sendall(b"zVERSION\0")
                return _read_reply(connection) or None
        except OSError:
            return None

    def _connect(self) -> socket.socket:
        connection = socket.socket(self.family, socket.SOCK_STREAM)
        try:
            connection.settimeout(self.connect_timeout)
            connection.connect(self.target)
            connection.settimeout(self.timeout)
        except BaseException:
            connection.close()
            raise
        return connection


def parse_reply(reply: str) -> ScanResult:
    """clamd's answer to INSTREAM, as a verdict."""
    if reply.startswith("stream: "):
        reply = reply[len("stream: ") :]
    if reply == "OK":
        return ScanResult(ScanVerdict.CLEAN)
    if reply.endswith(" FOUND"):
        signature = reply[: -len(" FOUND")].strip()
        if signature.startswith(_UNDECIDED_SIGNATURES):
            return _failed(f"clamd could not scan the whole file: {signature}")
        return ScanResult(ScanVerdict.INFECTED, signature=signature)
    if reply.endswith(" ERROR"):
        return _failed(f"clamd error: {reply[: -len(' ERROR')].strip()}")
    if not reply:
        return _failed("clamd closed the connection without an answer")
    return _failed(f"unexpected clamd answer: {reply[:200]}")


def scanner_from_url(url: str | None, *, timeout: float = DEFAULT_TIMEOUT) -> VirusScanner:
    """The scanner for a `CLAMD_URL`-like setting; none configured means no antivirus."""
    if not url or not url.strip():
        return NoAntivirus()
    return ClamdScanner(url.strip(), timeout=timeout)


def _parse_address(address: str) -> tuple[socket.AddressFamily, str | tuple[str, int]]:
    if address.startswith("/"):
        return socket.AF_UNIX, address
    parts = urlsplit(address)
    if parts.scheme == "unix" and parts.path:
        return socket.AF_UNIX, parts.path
    if parts.scheme == "tcp" and parts.hostname:
        return socket.AF_INET6 if ":" in parts.hostname else socket.AF_INET, (
            parts.hostname,
            parts.port or 3310,
        )
    raise ValueError(
        f"clamd address must be unix:///path, /path or tcp://host:port, not {address!r}"
    )


def _read_reply(connection: socket.socket) -> str:
    """Up to the NUL that ends a z-command answer, or the end of the connection."""
    data = b""
    while b"\0" not in data and len(data) < _MAX_REPLY:
        received = connection.recv(_MAX_REPLY)
        if not received:
            break
        data += received
    return data.split(b"\0", 1)[0].decode("utf-8", "replace").strip()


def _failed(detail: str) -> ScanResult:
    return ScanResult(ScanVerdict.FAILED, detail=detail)


def _describe(error: OSError) -> str:
    return f"{type(error).__name__}: {error}"
