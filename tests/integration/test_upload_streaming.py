"""Receiving uploads: streamed to a temporary file in chunks, memory flat whatever the size, the
limit enforced while reading, real file formats recognised by their content, and werkzeug's
multipart parser writing file parts straight into the receiver."""

from __future__ import annotations

import gc
import hashlib
import io
import struct
import tracemalloc
import zipfile
import zlib
from collections.abc import Iterator
from pathlib import Path

import pytest
from flask import Flask, Request, Response, request
from passemarche.adapters.uploads import (
    CHUNK_SIZE,
    MalformedContainer,
    ReceivedUpload,
    UploadReceiver,
    ole2_root_names,
    zip_entry_names,
)
from passemarche.domain.uploads import FileKind, RejectionReason, UploadRejected
from werkzeug.formparser import FormDataParser
from werkzeug.test import EnvironBuilder

MIB = 1024 * 1024
PDF_HEAD = b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n"


class GeneratedStream:
    """A file-like serving `size` bytes made on the fly, counting what was read."""

    def __init__(self, size: int, head: bytes = PDF_HEAD, fill: bytes | None = None) -> None:
        self.size = size
        self.served = 0
        self.largest_read = 0
        self.sha256 = hashlib.sha256()
        block = fill if fill is not None else bytes(range(256)) * 256  # 64 KiB, not text
        self._pattern = head + block * (CHUNK_SIZE // len(block) + 2)
        self._head_length = len(head)

    def read(self, size: int = -1) -> bytes:
        remaining = self.size - self.served
        if size < 0 or size > remaining:
            size = remaining
        if self.served == 0:
            data = self._pattern[:size]
        else:
            start = self._head_length
            data = self._pattern[start : start + size]
        self.served += len(data)
        self.largest_read = max(self.largest_read, len(data))
        self.sha256.update(data)
        return data


def temp_files(directory: Path) -> list[Path]:
    return sorted(directory.iterdir()) if directory.exists() else []


@pytest.fixture
def temp_dir(tmp_path: Path) -> Path:
    return tmp_path / "uploads"


@pytest.fixture
def receiver(temp_dir: Path) -> UploadReceiver:
    return UploadReceiver(max_bytes=20 * MIB, temp_dir=temp_dir)


class TestStreaming:
    def test_200_mb_go_through_with_flat_memory(self, temp_dir):
        receiver = UploadReceiver(max_bytes=300 * MIB, temp_dir=temp_dir)
        stream = GeneratedStream(200 * MIB)
        tracemalloc.start()
        try:
            upload = receiver.receive("annexe financière.pdf", stream)
            _, peak = tracemalloc.get_traced_memory()
        finally:
            tracemalloc.stop()
        with upload:
            assert peak < 3 * MIB, f"peak {peak / MIB:.1f} MiB for a 200 MiB upload"
            assert stream.largest_read <= CHUNK_SIZE
            assert upload.size == 200 * MIB == upload.path.stat().st_size
            assert upload.sha256 == stream.sha256.hexdigest()
            assert upload.file_type.kind is FileKind.PDF
            assert upload.content_type == "application/pdf"
            assert upload.original_name == "annexe financière.pdf"
            assert upload.storage_name == "annexe_financiere.pdf"
        assert temp_files(temp_dir) == []

    def test_an_over_limit_stream_is_refused_just_past_the_limit(self, temp_dir):
        receiver = UploadReceiver(max_bytes=10 * MIB, temp_dir=temp_dir)
        stream = GeneratedStream(1024 * MIB)
        with pytest.raises(UploadRejected) as refused:
            receiver.receive("plans.pdf", stream)
        assert refused.value.reason is RejectionReason.TOO_LARGE
        assert refused.value.message == "Le fichier dépasse la taille maximale de 10 Mo."
        assert stream.served == 10 * MIB + 1
        assert temp_files(temp_dir) == []

    def test_exactly_the_limit_is_accepted(self, temp_dir):
        receiver = UploadReceiver(max_bytes=MIB, temp_dir=temp_dir)
        with receiver.receive("plans.pdf", GeneratedStream(MIB)) as upload:
            assert upload.size == MIB

    def test_a_declared_size_over_the_limit_is_refused_before_reading(self, receiver):
        stream = GeneratedStream(30 * MIB)
        with pytest.raises(UploadRejected, match="taille maximale de 20 Mo"):
            receiver.receive("plans.pdf", stream, declared_size=30 * MIB)
        assert stream.served == 0

    def test_a_refused_name_reads_nothing(self, receiver):
        stream = GeneratedStream(MIB)
        with pytest.raises(UploadRejected, match=r"n’est pas accepté : \.exe"):
            receiver.receive("setup.exe", stream)
        assert stream.served == 0

    def test_an_executable_named_pdf_is_refused_on_its_first_chunk(self, receiver, temp_dir):
        stream = GeneratedStream(15 * MIB, head=b"MZ\x90\x00\x03\x00\x00\x00" + PDF_HEAD)
        with pytest.raises(UploadRejected) as refused:
            receiver.receive("facture.pdf", stream)
        assert refused.value.reason is RejectionReason.CONTENT_MISMATCH
        assert stream.served <= CHUNK_SIZE
        assert temp_files(temp_dir) == []

    def test_a_text_turning_binary_after_the_first_chunk_is_refused(self, receiver, temp_dir):
        body = b"nom;siret\n" * 100_000 + b"\x00\x01\x02" + b"a;b\n" * 10
        with pytest.raises(UploadRejected) as refused:
            receiver.receive("liste.csv", io.BytesIO(body))
        assert refused.value.reason is RejectionReason.CONTENT_MISMATCH
        assert temp_files(temp_dir) == []

    def test_an_empty_file_is_refused(self, receiver):
        with pytest.raises(UploadRejected, match="Le fichier est vide."):
            receiver.receive("vide.pdf", io.BytesIO(b""))

    def test_the_accepted_file_is_removed_with_its_context(self, receiver, temp_dir):
        with receiver.receive("note.txt", io.BytesIO(b"Bonjour\n")) as upload:
            assert upload.open().read() == b"Bonjour\n"
            assert temp_files(temp_dir) == [upload.path]
        assert temp_files(temp_dir) == []


# Real formats, made here with the standard library.
def zip_file(entries: dict[str, bytes], stored_first: str | None = None) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        if stored_first:
            archive.writestr(stored_first, entries[stored_first], zipfile.ZIP_STORED)
        for name, data in entries.items():
            if name != stored_first:
                archive.writestr(name, data)
    return buffer.getvalue()


def docx() -> bytes:
    return zip_file(
        {
            "[Content_Types].xml": b"<Types/>" + b" " * 2000,
            "_rels/.rels": b"<Relationships/>",
            "docProps/core.xml": b"<cp:coreProperties/>" + bytes(range(256)) * 40,
            "word/document.xml": b"<w:document/>",
        }
    )


def xlsx() -> bytes:
    return zip_file(
        {"[Content_Types].xml": b"<Types/>", "xl/workbook.xml": b"<workbook/>", "_rels/.rels": b""}
    )


def opendocument(kind: str) -> bytes:
    return zip_file(
        {
            "mimetype": f"application/vnd.oasis.opendocument.{kind}".encode(),
            "content.xml": b"<office:document-content/>",
            "META-INF/manifest.xml": b"<manifest:manifest/>",
        },
        stored_first="mimetype",
    )


def compound_file(root_names: list[str], padding_sectors: int = 0) -> bytes:
    """A minimal OLE2 compound file ([MS-CFB], version 3): `padding_sectors` of data first (a big
    file needs DIFAT sectors), then the directory, then the FAT and DIFAT sectors."""
    free, end, fat_mark, difat_mark, no_stream = (
        0xFFFFFFFF,
        0xFFFFFFFE,
        0xFFFFFFFD,
        0xFFFFFFFC,
        0xFFFFFFFF,
    )
    entries = [("Root Entry", 5)] + [(name, 2) for name in root_names]
    directory_sectors = -(-len(entries) // 4)
    fat_sectors = difat_sectors = 0
    while True:  # the FAT covers every sector, its own included
        total = padding_sectors + directory_sectors + fat_sectors + difat_sectors
        needed_fat = -(-total // 128)
        needed_difat = -(-max(0, needed_fat - 109) // 127)
        if (needed_fat, needed_difat) == (fat_sectors, difat_sectors):
            break
        fat_sectors, difat_sectors = needed_fat, needed_difat
    first_directory = padding_sectors
    first_fat = first_directory + directory_sectors
    first_difat = first_fat + fat_sectors
    fat = [free] * (fat_sectors * 128)
    for sector in range(padding_sectors - 1):
        fat[sector] = sector + 1
    if padding_sectors:
        fat[padding_sectors - 1] = end
    for index in range(directory_sectors):
        last = index == directory_sectors - 1
        fat[first_directory + index] = end if last else first_directory + index + 1
    for index in range(fat_sectors):
        fat[first_fat + index] = fat_mark
    for index in range(difat_sectors):
        fat[first_difat + index] = difat_mark
    # Siblings as a chain of right links under the root (a degenerate but valid tree).
    directory = b""
    for index, (name, kind) in enumerate(entries):
        encoded = (name + "\0").encode("utf-16-le")
        child = 1 if index == 0 and len(entries) > 1 else no_stream
        right = index + 1 if 0 < index < len(entries) - 1 else no_stream
        directory += (
            encoded.ljust(64, b"\0")
            + struct.pack("<HBB", len(encoded), kind, 1)
            + struct.pack("<III", no_stream, right, child)
            + b"\0" * 16  # CLSID
            + b"\0" * 4  # state bits
            + b"\0" * 16  # times
            + struct.pack("<IQ", end if kind == 5 else 0, 0)
        )
    directory = directory.ljust(directory_sectors * 512, b"\0")
    fat_locations = [first_fat + index for index in range(fat_sectors)]
    header_difat = (fat_locations[:109] + [free] * 109)[:109]
    difat = b""
    rest = fat_locations[109:]
    for index in range(difat_sectors):
        part = (rest[index * 127 : (index + 1) * 127] + [free] * 127)[:127]
        following = first_difat + index + 1 if index < difat_sectors - 1 else end
        difat += struct.pack("<128I", *part, following)
    header = (
        b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
        + b"\0" * 16
        + struct.pack("<HHHHH", 0x3E, 3, 0xFFFE, 9, 6)
        + b"\0" * 6
        + struct.pack(
            "<IIIIIIIII",
            0,
            fat_sectors,
            first_directory,
            0,
            4096,
            end,
            0,
            first_difat if difat_sectors else end,
            difat_sectors,
        )
        + struct.pack("<109I", *header_difat)
    )
    assert len(header) == 512
    padding = bytes(range(256)) * 2 * padding_sectors
    return header + padding + directory + struct.pack(f"<{len(fat)}I", *fat) + difat


def png() -> bytes:
    def chunk(kind: bytes, data: bytes) -> bytes:
        crc = zlib.crc32(kind + data)
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", crc)

    pixels = zlib.compress(b"\x00\xff\x00\x00")
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", struct.pack(">IIBBBBB", 1, 1, 8, 2, 0, 0, 0))
        + chunk(b"IDAT", pixels)
        + chunk(b"IEND", b"")
    )


JPEG = bytes.fromhex("ffd8ffe000104a46494600010100000100010000ffd9")
PDF = (
    b"%PDF-1.4\n1 0 obj<</Type/Catalog/Pages 2 0 R>>endobj\n"
    b"2 0 obj<</Type/Pages/Kids[]/Count 0>>endobj\ntrailer<</Root 1 0 R>>\n%%EOF\n"
)


class TestRealFormats:
    @pytest.mark.parametrize(
        ("name", "content", "kind"),
        [
            ("Kbis.pdf", PDF, FileKind.PDF),
            ("mémoire technique.docx", docx(), FileKind.DOCX),
            ("bilan.xlsx", xlsx(), FileKind.XLSX),
            ("mémoire.odt", opendocument("text"), FileKind.ODT),
            ("bilan.ods", opendocument("spreadsheet"), FileKind.ODS),
            (
                "ancien.doc",
                compound_file(["WordDocument", "1Table", "\x05SummaryInformation"]),
                FileKind.DOC,
            ),
            (
                "ancien.xls",
                compound_file(["\x05DocumentSummaryInformation", "Workbook"]),
                FileKind.XLS,
            ),
            ("modèle.doc", b"{\\rtf1\\ansi Lettre de candidature}", FileKind.RTF),
            ("logo.png", png(), FileKind.PNG),
            ("photo.JPG", JPEG, FileKind.JPEG),
            ("liste.csv", "raison sociale;ville\nÉtoile;Orléans\n".encode(), FileKind.TEXT),
            ("note.txt", "Déclaration – 12 €\r\n".encode("cp1252"), FileKind.TEXT),
        ],
    )
    def test_are_accepted_for_their_content(self, receiver, name, content, kind):
        with receiver.receive(name, io.BytesIO(content)) as upload:
            assert upload.file_type.kind is kind
            assert upload.size == len(content)
            assert upload.sha256 == hashlib.sha256(content).hexdigest()
            assert upload.path.read_bytes() == content

    def test_a_big_compound_file_is_read_through_its_difat(self, receiver):
        content = compound_file(["Workbook"], padding_sectors=15_000)  # 7.5 MB, 118 FAT sectors
        assert struct.unpack("<I", content[72:76])[0] == 1  # one DIFAT sector
        with receiver.receive("gros.xls", io.BytesIO(content)) as upload:
            assert upload.file_type.kind is FileKind.XLS

    @pytest.mark.parametrize(
        ("name", "content", "reason"),
        [
            ("offre.docx", zip_file({"offre.pdf": PDF, "kbis.pdf": PDF}), RejectionReason.ARCHIVE),
            ("offre.docx", xlsx(), RejectionReason.CONTENT_MISMATCH),
            ("offre.xlsx", opendocument("spreadsheet"), RejectionReason.CONTENT_MISMATCH),
            ("offre.odt", docx(), RejectionReason.CONTENT_MISMATCH),
            ("offre.pdf", docx(), RejectionReason.CONTENT_MISMATCH),
            ("offre.doc", compound_file(["Workbook"]), RejectionReason.CONTENT_MISMATCH),
            (
                "setup.doc",
                compound_file(["\x05SummaryInformation", "!_StringData"]),
                RejectionReason.CONTENT_MISMATCH,
            ),  # an MSI installer is an OLE2 file too
            (
                "offre.doc",
                b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\xff" * 600,
                RejectionReason.CONTENT_MISMATCH,
            ),
            ("offre.docx", docx()[:-30], RejectionReason.CONTENT_MISMATCH),  # truncated
            ("photo.png", JPEG, RejectionReason.CONTENT_MISMATCH),
            ("notes.txt", png(), RejectionReason.CONTENT_MISMATCH),
        ],
    )
    def test_are_refused_when_the_content_does_not_suit(
        self, receiver, temp_dir, name, content, reason
    ):
        with pytest.raises(UploadRejected) as refused:
            receiver.receive(name, io.BytesIO(content))
        assert refused.value.reason is reason
        assert temp_files(temp_dir) == []

    def test_a_zip_with_too_many_entries_is_not_listed(self, tmp_path):
        path = tmp_path / "many.zip"
        with zipfile.ZipFile(path, "w", zipfile.ZIP_STORED) as archive:
            for index in range(20_001):
                archive.writestr(f"{index}.txt", b"")
        with path.open("rb") as file, pytest.raises(MalformedContainer):
            zip_entry_names(file, path.stat().st_size)

    def test_a_zip64_central_directory_is_read(self, tmp_path):
        path = tmp_path / "z64.docx"
        with zipfile.ZipFile(path, "w") as archive:
            for name in ("[Content_Types].xml", "word/document.xml"):
                with archive.open(name, "w", force_zip64=True) as member:
                    member.write(b"<x/>")
        with path.open("rb") as file:
            assert "word/document.xml" in zip_entry_names(file, path.stat().st_size)

    def test_a_compound_file_whose_directory_loops_is_malformed(self):
        content = bytearray(compound_file(["WordDocument"]))
        fat_offset = 512 + 512  # the FAT follows the one directory sector
        content[fat_offset : fat_offset + 4] = struct.pack("<I", 0)  # sector 0 → itself
        with pytest.raises(MalformedContainer):
            ole2_root_names(io.BytesIO(bytes(content)), len(content))


def multipart(parts: list[tuple[str, str | None, Iterator[bytes] | bytes]], boundary: bytes):
    """A multipart/form-data body produced lazily, as a browser would send it."""
    for name, filename, value in parts:
        disposition = f'form-data; name="{name}"'
        if filename is not None:
            disposition += f'; filename="{filename}"'
        yield b"--" + boundary + b"\r\nContent-Disposition: " + disposition.encode() + b"\r\n"
        if filename is not None:
            yield b"Content-Type: application/octet-stream\r\n"
        yield b"\r\n"
        yield from ([value] if isinstance(value, bytes) else value)
        yield b"\r\n"
    yield b"--" + boundary + b"--\r\n"


class IteratorStream(io.RawIOBase):
    def __init__(self, chunks: Iterator[bytes]) -> None:
        self._chunks = chunks
        self._pending = b""

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:  # type: ignore[override]
        while not self._pending:
            self._pending = next(self._chunks, b"")
            if not self._pending:
                return 0
        size = min(len(buffer), len(self._pending))
        buffer[:size] = self._pending[:size]
        self._pending = self._pending[size:]
        return size


def generated(size: int, head: bytes = PDF_HEAD) -> Iterator[bytes]:
    stream = GeneratedStream(size, head=head)
    while chunk := stream.read(64 * 1024):
        yield chunk


def parse_form(receiver: UploadReceiver, parts):
    boundary = b"----passemarche-test-boundary"
    parser = FormDataParser(stream_factory=receiver.stream_factory)
    stream = io.BufferedReader(IteratorStream(multipart(parts, boundary)))
    _, form, files = parser.parse(
        stream, "multipart/form-data", None, {"boundary": boundary.decode()}
    )
    return form, files


class TestWerkzeugMultipart:
    def test_an_over_limit_part_is_dropped_and_the_form_stays_readable(self, temp_dir):
        receiver = UploadReceiver(max_bytes=5 * MIB, temp_dir=temp_dir)
        form, files = parse_form(
            receiver,
            [("document", "plans.pdf", generated(8 * MIB)), ("csrf_token", None, b"jeton")],
        )
        assert form["csrf_token"] == "jeton"
        assert temp_files(temp_dir) == []  # dropped as it arrived, not kept until the end
        with pytest.raises(UploadRejected, match="taille maximale de 5 Mo"):
            receiver.accept(files["document"])

    def test_an_unaccepted_part_leaves_no_temporary_file(self, temp_dir):
        receiver = UploadReceiver(temp_dir=temp_dir)
        _, files = parse_form(receiver, [("document", "Kbis.pdf", generated(MIB))])
        assert len(temp_files(temp_dir)) == 1
        files["document"].close()  # what werkzeug's Request.close() does at the end
        assert temp_files(temp_dir) == []
        _, files = parse_form(receiver, [("document", "Kbis.pdf", generated(MIB))])
        assert len(temp_files(temp_dir)) == 1
        del files
        gc.collect()
        assert temp_files(temp_dir) == []

    def test_no_file_chosen_is_said_so(self, receiver):
        _, files = parse_form(receiver, [("document", "", b"")])
        with pytest.raises(UploadRejected, match="Aucun fichier n’a été sélectionné."):
            receiver.accept(files["document"])

    def test_a_part_from_another_stream_factory_is_streamed_through_the_rules(self, receiver):
        from werkzeug.datastructures import FileStorage

        upload: ReceivedUpload = receiver.accept(FileStorage(io.BytesIO(PDF), "Kbis.pdf"))
        with upload:
            assert upload.file_type.kind is FileKind.PDF


BOUNDARY = b"----passemarche-flask-boundary"


def upload_app(receiver: UploadReceiver, max_content_length: int) -> Flask:
    """How a page wires the receiver: werkzeug's parser writes file parts into it, and the
    request as a whole is bounded by `max_content_length` (413 as soon as it is passed)."""

    class UploadRequest(Request):
        def _get_file_stream(
            self, total_content_length, content_type, filename=None, content_length=None
        ):
            return receiver.stream_factory(
                total_content_length, content_type, filename, content_length
            )

    app = Flask(__name__)
    app.request_class = UploadRequest
    app.config["MAX_CONTENT_LENGTH"] = max_content_length

    @app.post("/upload")
    def upload():
        token = request.form.get("csrf_token")
        try:
            with receiver.accept(request.files["document"]) as received:
                return {"csrf": token, "size": received.size, "kind": received.file_type.kind}
        except UploadRejected as refusal:
            return {"csrf": token, "error": refusal.message}, 422

    return app


def post_streamed(app: Flask, parts, content_length: int | None = None) -> Response:
    """POSTs a body read lazily by the server, as a WSGI server hands it over (the test client
    would measure the body first)."""
    environ = EnvironBuilder(method="POST", path="/upload").get_environ()
    environ["CONTENT_TYPE"] = f"multipart/form-data; boundary={BOUNDARY.decode()}"
    environ["wsgi.input"] = io.BufferedReader(IteratorStream(multipart(parts, BOUNDARY)))
    if content_length is None:
        environ.pop("CONTENT_LENGTH", None)
        environ["wsgi.input_terminated"] = True  # chunked: no length known in advance
    else:
        environ["CONTENT_LENGTH"] = str(content_length)
    return Response.from_app(app, environ, buffered=True)


class TestThroughFlask:
    def test_a_100_mb_file_part_streams_into_the_receiver_with_flat_memory(self, temp_dir):
        receiver = UploadReceiver(max_bytes=200 * MIB, temp_dir=temp_dir)
        app = upload_app(receiver, max_content_length=201 * MIB)
        tracemalloc.start()
        try:
            response = post_streamed(
                app,
                [("csrf_token", None, b"jeton"), ("document", "Kbis.pdf", generated(100 * MIB))],
            )
            _, peak = tracemalloc.get_traced_memory()
        finally:
            tracemalloc.stop()
        assert response.status_code == 200, response.json
        assert response.json == {"csrf": "jeton", "size": 100 * MIB, "kind": "pdf"}
        assert peak < 4 * MIB, f"peak {peak / MIB:.1f} MiB for a 100 MiB multipart upload"
        assert temp_files(temp_dir) == []

    def test_an_over_limit_file_is_refused_in_french_next_to_a_readable_form(self, temp_dir):
        receiver = UploadReceiver(max_bytes=5 * MIB, temp_dir=temp_dir)
        app = upload_app(receiver, max_content_length=6 * MIB)
        response = post_streamed(
            app, [("csrf_token", None, b"jeton"), ("document", "plans.pdf", generated(5 * MIB + 1))]
        )
        assert response.status_code == 422
        assert response.json == {
            "csrf": "jeton",
            "error": "Le fichier dépasse la taille maximale de 5 Mo.",
        }
        assert temp_files(temp_dir) == []

    def test_a_chunked_body_over_the_request_limit_stops_being_read(self, temp_dir):
        receiver = UploadReceiver(max_bytes=5 * MIB, temp_dir=temp_dir)
        app = upload_app(receiver, max_content_length=6 * MIB)
        served = GeneratedStream(1024 * MIB)
        chunks = iter(lambda: served.read(64 * 1024), b"")
        response = post_streamed(app, [("document", "plans.pdf", chunks)])
        assert response.status_code == 413
        assert served.served < 7 * MIB
        assert temp_files(temp_dir) == []

    def test_a_declared_length_over_the_request_limit_reads_nothing(self, temp_dir):
        receiver = UploadReceiver(max_bytes=5 * MIB, temp_dir=temp_dir)
        app = upload_app(receiver, max_content_length=6 * MIB)
        served = GeneratedStream(1024 * MIB)
        chunks = iter(lambda: served.read(64 * 1024), b"")
        response = post_streamed(
            app, [("document", "plans.pdf", chunks)], content_length=1024 * MIB + 200
        )
        assert response.status_code == 413
        assert served.served == 0
