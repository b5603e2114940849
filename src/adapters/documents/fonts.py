"""DejaVu Sans for the PDFs, parsed once per process and lent to each document.

fpdf2 parses a TrueType file on every `add_font` (~40 ms per face for DejaVu Sans) and, when it
writes a document, subsets the font's tables in place (~26 ms per full face), so a parsed font
cannot simply be reused. Here each face is parsed once and reduced once to the scripts a French
dossier needs (Latin, punctuation, currency, arrows: 1,160 glyphs instead of 6,250, no hinting:
~6 ms to subset); every document gets a cheap copy of the parsed face with a fresh subset and
its own lazily-read copy of the reduced file to subset at output. The full faces are parsed
only when a text holds a character outside that set (Greek, Cyrillic...), and lent only to the
documents that print one.

This relies on fpdf2's `TTFFont` internals (fpdf2 2.8.9, pinned); the integration tests render and
read back every document, so an upgrade that changes them fails loudly.
"""

from __future__ import annotations

import copy
import io
import threading
import unicodedata
from dataclasses import dataclass
from pathlib import Path

from fontTools import subset as font_subset
from fontTools import ttLib
from fpdf import FPDF
from fpdf.fonts import SubsetMap, TTFFont

DEFAULT_FONT_DIR = Path("/usr/share/fonts/truetype/dejavu")
FACES = {"": "DejaVuSans.ttf", "B": "DejaVuSans-Bold.ttf"}  # fpdf2 style -> file
FAMILY = "dejavu"
FALLBACK_FAMILY = "dejavufull"
REPLACEMENT = "\ufffd"  # printed for a character that no DejaVu face has

# What French (and most European) text uses, kept in the everyday faces.
EVERYDAY_RANGES = (
    (0x0020, 0x007E),  # Basic Latin
    (0x00A0, 0x024F),  # Latin-1 Supplement, Latin Extended-A and -B (é œ ș ...)
    (0x02B0, 0x036F),  # spacing modifiers, combining accents
    (0x2000, 0x206F),  # general punctuation (’ – … narrow no-break space)
    (0x20A0, 0x20CF),  # currency (€)
    (0x2100, 0x215F),  # letterlike symbols, number forms (№ ™ ½)
    (0x2190, 0x21FF),  # arrows (→)
    (0x2212, 0x2212),  # minus sign
    (0x25A0, 0x25FF),  # geometric shapes (■ □ ●)
    (0x2713, 0x2717),  # check marks
    (0xFFFD, 0xFFFD),  # replacement character
)


class FontUnavailable(RuntimeError):
    """The DejaVu Sans files are missing (Debian package `fonts-dejavu-core`, `make fonts`)."""


@dataclass(frozen=True)
class Face:
    """One parsed face: fpdf2's font object to copy from, the file to subset, the widths."""

    template: TTFFont
    data: bytes  # the TrueType file each document's copy subsets at output
    widths: dict[str, int]  # character -> advance width in 1/1000 em

    def lend_to(self, pdf: FPDF, fontkey: str) -> None:
        """Adds a copy of this face to `pdf` as `fontkey`, with the per-document state fresh."""
        font = copy.copy(self.template)
        font.i = len(pdf.fonts) + 1
        font.fontkey = fontkey
        # The subsetter rewrites this object at output: each document reads its own copy.
        # Glyph bounding boxes are already right in the file, so they are not recomputed.
        font.ttfont = ttLib.TTFont(
            io.BytesIO(self.data), lazy=True, recalcTimestamp=False, recalcBBoxes=False
        )
        font.desc = copy.copy(self.template.desc)  # output writes its object id and file in it
        font.missing_glyphs = []
        font.biggest_size_pt = 0
        font._hbfont = None
        font.color_font = None
        font.subset = SubsetMap(font)
        pdf.fonts[fontkey] = font


def _reduce(data: bytes) -> bytes:
    """The face cut down to EVERYDAY_RANGES, without hinting (a PDF viewer does not need it)."""
    font = ttLib.TTFont(io.BytesIO(data), recalcTimestamp=False)
    options = font_subset.Options(
        notdef_outline=True,
        recommended_glyphs=True,
        hinting=False,
        layout_features=[],
        name_IDs=["*"],
        glyph_names=True,
        notdef_glyph=True,
    )
    options.drop_tables += ["FFTM", "GDEF", "GPOS", "GSUB", "MATH", "hdmx", "meta", "kern"]
    subsetter = font_subset.Subsetter(options)
    subsetter.populate(unicodes=[c for low, high in EVERYDAY_RANGES for c in range(low, high + 1)])
    subsetter.subset(font)
    output = io.BytesIO()
    font.save(output)
    return output.getvalue()


def _parse(data: bytes, style: str, fontkey: str, name_suffix: str = "") -> Face:
    template = TTFFont(FPDF(), io.BytesIO(data), fontkey, style)  # type: ignore[arg-type]
    # A PDF names each embedded font: the full faces must not share the everyday faces' names.
    template.name += name_suffix
    widths = {chr(code): int(template.cw[code]) for code in template.cmap}
    template.ttfont.close()  # only the per-document copies are subset
    return Face(template=template, data=data, widths=widths)


class FontLibrary:
    """The everyday faces (parsed on first use) and the full ones (parsed when a text needs
    them), shared by every document of the process. Thread-safe."""

    def __init__(self, font_dir: Path = DEFAULT_FONT_DIR) -> None:
        self.font_dir = Path(font_dir)
        self._lock = threading.Lock()
        self._everyday: dict[str, Face] | None = None
        self._full: dict[str, Face] | None = None
        self._full_characters: frozenset[str] | None = None
        self._everyday_characters: frozenset[str] | None = None

    def _read(self, style: str) -> bytes:
        path = self.font_dir / FACES[style]
        try:
            return path.read_bytes()
        except OSError as error:
            raise FontUnavailable(
                f"{path} is missing: install Debian's fonts-dejavu-core (`make fonts`)"
            ) from error

    def everyday(self) -> dict[str, Face]:
        with self._lock:
            if self._everyday is None:
                self._everyday = {
                    style: _parse(_reduce(self._read(style)), style, FAMILY + style)
                    for style in FACES
                }
            return self._everyday

    def full(self) -> dict[str, Face]:
        with self._lock:
            if self._full is None:
                self._full = {
                    style: _parse(self._read(style), style, FALLBACK_FAMILY + style, "-Full")
                    for style in FACES
                }
            return self._full

    def everyday_characters(self) -> frozenset[str]:
        """The visible characters both everyday faces print (no control or format character,
        even where DejaVu draws one)."""
        if self._everyday_characters is None:
            faces = self.everyday()
            self._everyday_characters = frozenset(
                ch
                for ch in faces[""].widths.keys() & faces["B"].widths.keys()
                if unicodedata.category(ch)[0] != "C"
                and unicodedata.category(ch) not in ("Zl", "Zp")
            )
        return self._everyday_characters

    def full_characters(self) -> frozenset[str]:
        """Every character the full regular face can print."""
        if self._full_characters is None:
            self._full_characters = frozenset(self.full()[""].widths)
        return self._full_characters


_libraries: dict[Path, FontLibrary] = {}
_libraries_lock = threading.Lock()


def font_library(font_dir: Path = DEFAULT_FONT_DIR) -> FontLibrary:
    """The process's library for `font_dir`: fonts are parsed once per process, not per
    renderer."""
    key = Path(font_dir).resolve()
    with _libraries_lock:
        if key not in _libraries:
            _libraries[key] = FontLibrary(key)
        return _libraries[key]
