"""The upload rules: types known by their content and matched against the extension, archives
and executables refused, the size limit, and the French messages the candidate reads."""

from __future__ import annotations

import struct

import pytest
from hypothesis import given
from hypothesis import strategies as st
from passemarche.domain.errors import DomainError
from passemarche.domain.uploads import (
    ALLOWED_EXTENSIONS,
    DEFAULT_MAX_UPLOAD_BYTES,
    MISMATCH_MESSAGE,
    FileKind,
    FileType,
    RejectionReason,
    UploadRejected,
    check_content,
    check_file_name,
    check_head,
    check_size,
    display_name,
    extension_of,
    is_text,
    ole2_kind,
    opendocument_mimetype,
    size_label,
    sniff,
    zip_kind,
)

PDF = b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n1 0 obj\n<< /Type /Catalog >>\nendobj\n"
PNG = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + b"\x00" * 20
JPEG = b"\xff\xd8\xff\xe0\x00\x10JFIF\x00\x01\x01" + b"\x00" * 20
OLE2 = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 504
PE = b"MZ\x90\x00\x03\x00\x00\x00\x04\x00\x00\x00\xff\xff\x00\x00" + b"\x00" * 48 + PDF
ELF = b"\x7fELF\x02\x01\x01\x00" + b"\x00" * 56


def local_header(name: bytes, data: bytes, stored: bool = True) -> bytes:
    method = 0 if stored else 8
    return (
        struct.pack(
            "<IHHHHHIIIHH", 0x04034B50, 20, 0, method, 0, 0, 0, len(data), len(data), len(name), 0
        )
        + name
        + data
    )


ODT_HEAD = local_header(b"mimetype", b"application/vnd.oasis.opendocument.text")
ODS_HEAD = local_header(b"mimetype", b"application/vnd.oasis.opendocument.spreadsheet")
DOCX_NAMES = ["[Content_Types].xml", "_rels/.rels", "word/document.xml", "docProps/core.xml"]
XLSX_NAMES = ["[Content_Types].xml", "_rels/.rels", "xl/workbook.xml", "xl/worksheets/sheet1.xml"]


class TestTheNameComesFirst:
    @pytest.mark.parametrize("extension", ALLOWED_EXTENSIONS)
    def test_every_allowed_extension_passes_in_any_case(self, extension):
        assert check_file_name(f"Kbis société.{extension.upper()}") == extension

    @pytest.mark.parametrize("name", ["setup.exe", "facture.pdf.exe", "script.sh", "page.html"])
    def test_other_types_are_refused_with_the_accepted_list(self, name):
        with pytest.raises(UploadRejected) as refused:
            check_file_name(name)
        assert refused.value.reason is RejectionReason.TYPE_NOT_ALLOWED
        assert refused.value.message.startswith(
            f"Ce type de fichier n’est pas accepté : .{name.rsplit('.', 1)[1]}."
        )
        assert "Formats acceptés : PDF, DOC, DOCX" in refused.value.message

    @pytest.mark.parametrize("name", ["pieces.zip", "pieces.rar", "pieces.7z", "a.tar", "a.gz"])
    def test_archives_are_refused_even_though_a_docx_is_a_zip(self, name):
        with pytest.raises(UploadRejected) as refused:
            check_file_name(name)
        assert refused.value.reason is RejectionReason.ARCHIVE
        assert "Les archives ne sont pas acceptées" in refused.value.message

    @pytest.mark.parametrize("name", ["README", ".pdf", "rapport."])
    def test_a_name_without_extension_is_refused(self, name):
        with pytest.raises(UploadRejected, match="fichier sans extension"):
            check_file_name(name)

    def test_no_name_means_no_file_was_chosen(self):
        with pytest.raises(UploadRejected) as refused:
            check_file_name("")
        assert refused.value.reason is RejectionReason.MISSING
        assert refused.value.message == "Aucun fichier n’a été sélectionné."

    def test_the_extension_is_read_from_the_last_path_part(self):
        assert extension_of("C:\\Users\\léa\\dossier.v2\\Kbis.PDF") == "pdf"
        assert extension_of("dossier.v2/Kbis") == ""

    def test_an_upload_refusal_is_a_domain_error(self):
        assert issubclass(UploadRejected, DomainError)


class TestTheContentIsRecognised:
    @pytest.mark.parametrize(
        ("head", "kind"),
        [
            (PDF, FileKind.PDF),
            (b"\xef\xbb\xbf\n%PDF-1.4\n" + b"\x00\x01", FileKind.PDF),
            (PNG, FileKind.PNG),
            (JPEG, FileKind.JPEG),
            (OLE2, FileKind.OLE2),
            (ODT_HEAD, FileKind.ZIP),
            (b"PK\x05\x06" + b"\x00" * 18, FileKind.ZIP),
            (b"{\\rtf1\\ansi\\deff0 Bonjour}", FileKind.RTF),
            ("Raison sociale;SIRET\nÉtoile SARL;13002526500013\r\n".encode(), FileKind.TEXT),
            ("Société générale – prix 12 €".encode("cp1252"), FileKind.TEXT),
            (PE, FileKind.EXECUTABLE),
            (ELF, FileKind.EXECUTABLE),
            (b"\xcf\xfa\xed\xfe\x07\x00\x00\x01", FileKind.EXECUTABLE),
            (b"Rar!\x1a\x07\x01\x00", FileKind.ARCHIVE),
            (b"7z\xbc\xaf\x27\x1c\x00\x04", FileKind.ARCHIVE),
            (b"\x1f\x8b\x08\x00\x00\x00\x00\x00", FileKind.ARCHIVE),
            (b"BZh91AY&SY\x00\x01", FileKind.ARCHIVE),
            (b"\xfd7zXZ\x00\x00\x04", FileKind.ARCHIVE),
            (b"a.txt".ljust(257, b"\x00") + b"ustar\x0000", FileKind.ARCHIVE),
            (b"GIF89a\x01\x00\x01\x00\x80\x00\x00", FileKind.UNKNOWN),
            (b"texte\x00avec NUL", FileKind.UNKNOWN),
            ("\ufeffUTF-16 text".encode("utf-16"), FileKind.UNKNOWN),
        ],
    )
    def test_by_its_first_bytes(self, head, kind):
        assert sniff(head) is kind

    def test_an_executable_with_a_pdf_header_further_on_is_still_an_executable(self):
        assert b"%PDF-" in PE[:1024]
        assert sniff(PE) is FileKind.EXECUTABLE

    def test_a_text_that_mentions_a_pdf_header_stays_text(self):
        assert sniff(b"Le format commence par %PDF-1.7 puis...\n") is FileKind.TEXT

    def test_a_text_that_starts_with_mz_stays_text(self):
        assert sniff(b"MZ Consulting;Paris;75001\n") is FileKind.TEXT

    def test_text_allows_tabs_line_ends_and_form_feeds_but_no_other_control(self):
        assert is_text(b"a\tb\r\nc\x0cd\x1a")
        assert not is_text(b"a\x1bb")
        assert not is_text(b"a\x00b")

    @given(st.text(alphabet=st.characters(blacklist_categories=("Cc", "Cs"))))
    def test_any_printable_text_is_text_in_utf8_and_latin1(self, text):
        assert is_text(text.encode("utf-8"))
        assert is_text(text.encode("latin-1", "replace"))


class TestContainersAreToldApart:
    def test_opendocument_by_its_first_entry(self):
        assert opendocument_mimetype(ODT_HEAD) == "application/vnd.oasis.opendocument.text"
        assert zip_kind(["mimetype", "content.xml", "META-INF/manifest.xml"], ODT_HEAD) is (
            FileKind.ODT
        )
        assert zip_kind(["mimetype", "content.xml"], ODS_HEAD) is FileKind.ODS

    def test_a_compressed_mimetype_entry_is_not_opendocument(self):
        head = local_header(b"mimetype", b"application/vnd.oasis.opendocument.text", stored=False)
        assert opendocument_mimetype(head) is None
        assert zip_kind(["mimetype", "content.xml"], head) is FileKind.ARCHIVE

    def test_office_open_xml_by_its_parts(self):
        head = local_header(b"[Content_Types].xml", b"<Types/>")
        assert zip_kind(DOCX_NAMES, head) is FileKind.DOCX
        assert zip_kind(XLSX_NAMES, head) is FileKind.XLSX

    @pytest.mark.parametrize(
        "names",
        [
            ["rapport.pdf", "kbis.pdf"],
            ["word/document.xml"],  # no [Content_Types].xml: a folder zipped by hand
            ["[Content_Types].xml", "ppt/presentation.xml"],
            [],
        ],
    )
    def test_any_other_zip_is_an_archive(self, names):
        assert zip_kind(names, local_header(b"a", b"")) is FileKind.ARCHIVE

    def test_ole2_by_its_root_streams(self):
        assert ole2_kind({"Root Entry", "WordDocument", "1Table"}) is FileKind.DOC
        assert ole2_kind({"Workbook", "\x05SummaryInformation"}) is FileKind.XLS
        assert ole2_kind({"Book"}) is FileKind.XLS
        assert ole2_kind({"PowerPoint Document"}) is FileKind.UNKNOWN  # not accepted
        assert ole2_kind({"WordDocument", "Workbook"}) is FileKind.UNKNOWN


class TestTheContentMustSuitTheExtension:
    @pytest.mark.parametrize(
        ("extension", "kind", "content_type"),
        [
            ("pdf", FileKind.PDF, "application/pdf"),
            ("doc", FileKind.DOC, "application/msword"),
            ("doc", FileKind.RTF, "application/rtf"),
            ("xls", FileKind.XLS, "application/vnd.ms-excel"),
            (
                "docx",
                FileKind.DOCX,
                "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
            ),
            (
                "xlsx",
                FileKind.XLSX,
                "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
            ),
            ("odt", FileKind.ODT, "application/vnd.oasis.opendocument.text"),
            ("ods", FileKind.ODS, "application/vnd.oasis.opendocument.spreadsheet"),
            ("txt", FileKind.TEXT, "text/plain"),
            ("csv", FileKind.TEXT, "text/csv"),
            ("jpg", FileKind.JPEG, "image/jpeg"),
            ("jpeg", FileKind.JPEG, "image/jpeg"),
            ("png", FileKind.PNG, "image/png"),
        ],
    )
    def test_accepted_with_the_content_type_of_the_content(self, extension, kind, content_type):
        accepted = check_content(extension, kind)
        assert accepted == FileType(extension, kind)
        assert accepted.content_type == content_type

    @pytest.mark.parametrize(
        ("extension", "kind"),
        [
            ("pdf", FileKind.EXECUTABLE),
            ("pdf", FileKind.PNG),
            ("png", FileKind.JPEG),
            ("txt", FileKind.PDF),
            ("docx", FileKind.XLSX),
            ("doc", FileKind.XLS),
            ("xls", FileKind.UNKNOWN),
            ("csv", FileKind.UNKNOWN),
        ],
    )
    def test_a_mismatch_is_refused(self, extension, kind):
        with pytest.raises(UploadRejected) as refused:
            check_content(extension, kind)
        assert refused.value.reason is RejectionReason.CONTENT_MISMATCH
        assert refused.value.message == MISMATCH_MESSAGE
        assert MISMATCH_MESSAGE == "Le contenu du fichier ne correspond pas à son extension."

    def test_a_docx_that_is_a_plain_zip_is_refused_as_an_archive(self):
        with pytest.raises(UploadRejected) as refused:
            check_content("docx", FileKind.ARCHIVE)
        assert refused.value.reason is RejectionReason.ARCHIVE

    def test_containers_pass_the_first_bytes_only_under_an_extension_they_may_suit(self):
        check_head("docx", FileKind.ZIP)
        check_head("xls", FileKind.OLE2)
        with pytest.raises(UploadRejected):
            check_head("pdf", FileKind.ZIP)
        with pytest.raises(UploadRejected):
            check_head("docx", FileKind.OLE2)


class TestTheSizeLimit:
    def test_is_100_mo_by_default_and_says_so_in_french(self):
        check_size(DEFAULT_MAX_UPLOAD_BYTES, DEFAULT_MAX_UPLOAD_BYTES)
        with pytest.raises(UploadRejected) as refused:
            check_size(DEFAULT_MAX_UPLOAD_BYTES + 1, DEFAULT_MAX_UPLOAD_BYTES)
        assert refused.value.reason is RejectionReason.TOO_LARGE
        assert refused.value.message == "Le fichier dépasse la taille maximale de 100 Mo."

    @pytest.mark.parametrize(
        ("size", "label"),
        [(10 * 1024 * 1024, "10 Mo"), (2_500_000, "2,4 Mo"), (512 * 1024, "512 Ko")],
    )
    def test_labels_read_as_french(self, size, label):
        assert size_label(size) == label


class TestTheDisplayName:
    def test_keeps_accents_and_drops_the_path_and_controls(self):
        assert display_name("C:\\fakepath\\Attestation\u0301 URSSAF\x07.pdf") == (
            "Attestatioń URSSAF.pdf"
        )

    def test_is_at_most_255_characters_with_the_extension_kept(self):
        name = display_name("é" * 400 + ".pdf")
        assert len(name) == 255
        assert name.endswith(".pdf")
