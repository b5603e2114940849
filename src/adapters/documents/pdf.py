"""The two attestations of a dossier as PDF, with fpdf2 and DejaVu Sans (every French character).

The layout is computed here, not by fpdf2's `multi_cell`: its line breaking re-measures the
whole line for every character added (about 0.6 ms per line), which alone would cost more than
the whole document. Texts are measured with the font's widths, wrapped, laid out in pages
(tables split across pages, their header repeated), and only then drawn: the page count is known
before the footers ("Page N / M") are written.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

from fpdf import FPDF
from passemarche.adapters.documents.fonts import (
    DEFAULT_FONT_DIR,
    FALLBACK_FAMILY,
    FAMILY,
    REPLACEMENT,
    Face,
    FontLibrary,
    font_library,
)
from passemarche.adapters.documents.package import member_names
from passemarche.domain.dossier import (
    ORIGIN_LABELS,
    Dossier,
    DossierAnswer,
    DossierDocument,
    Origin,
)

PARIS = ZoneInfo("Europe/Paris")
AUTHOR = "Passe Marché"
WATERMARK = "Attestation de test"

# Page geometry, in millimetres (A4 portrait).
PAGE_WIDTH, PAGE_HEIGHT = 210.0, 297.0
LEFT, RIGHT, TOP, BOTTOM = 18.0, 18.0, 20.0, 22.0
CONTENT_WIDTH = PAGE_WIDTH - LEFT - RIGHT
CELL_PADDING = 1.6
LABEL_WIDTH = 58.0
PT = 25.4 / 72  # millimetres per point
BREAKS = ("_", "-", "/", ".")  # where a word too long for its line is best cut
LINE_BREAKS = frozenset("\u2028\u2029\x0b\x0c\x1c\x1d\x1e\x85")  # read as new lines

Colour = tuple[int, int, int]
BLACK: Colour = (30, 30, 30)
GREY: Colour = (102, 102, 102)
BLUE_FRANCE: Colour = (0, 0, 145)
GREEN: Colour = (24, 117, 60)  # "Récupéré automatiquement"
BLUE: Colour = (0, 99, 203)  # "Déclaré par le candidat"
RULE: Colour = (206, 206, 206)
HEADER_FILL: Colour = (238, 238, 246)
WATERMARK_GREY: Colour = (170, 170, 170)

ORIGIN_COLOURS = {Origin.PREFILLED: GREEN, Origin.DECLARED: BLUE}


@dataclass(frozen=True)
class Style:
    size: float = 9.5  # points
    bold: bool = False
    colour: Colour = BLACK
    leading: float = 1.32

    @property
    def line_height(self) -> float:
        return self.size * self.leading * PT


BODY = Style()
LABEL = Style(bold=True)
SMALL = Style(size=8)
TITLE = Style(size=19, bold=True, colour=BLUE_FRANCE, leading=1.2)
HEADING = Style(size=12.5, bold=True, colour=BLUE_FRANCE, leading=1.25)
KICKER = Style(size=9, bold=True)
RUNNING = Style(size=7.5, colour=GREY)


# --- text: cleaning, measuring, wrapping -------------------------------------------------------


class Typesetter:
    """Measures and wraps text with the widths of the faces that will print it.

    Characters outside the everyday faces are printed with the full DejaVu faces (loaded on
    first need); characters no DejaVu face has become U+FFFD, never `?` or a missing glyph."""

    def __init__(self, library: FontLibrary) -> None:
        self.library = library
        self.everyday = library.everyday()
        self._widths = {False: self.everyday[""].widths, True: self.everyday["B"].widths}
        self._everyday_characters = library.everyday_characters()
        self.uses_full_faces = False

    def clean(self, text: str) -> str:
        """NFC, tabs as spaces, no control or invisible format characters (a bidi override
        would make a value read differently than it is stored)."""
        text = unicodedata.normalize("NFC", text).replace("\r\n", "\n").replace("\r", "\n")
        text = text.replace("\t", " ")
        if text.isprintable() and text.isascii():
            return text
        kept = []
        for ch in text:
            if ch in self._everyday_characters or ch == "\n":
                kept.append(ch)
            elif ch in LINE_BREAKS:
                kept.append("\n")
            elif unicodedata.category(ch)[0] == "C":
                continue  # control, format (bidi overrides), private use, unassigned
            elif unicodedata.category(ch) == "Zs":
                kept.append(" ")
            elif ch in self.library.full_characters():
                self.uses_full_faces = True
                kept.append(ch)
            else:
                self.uses_full_faces |= REPLACEMENT not in self._everyday_characters
                kept.append(REPLACEMENT)
        return "".join(kept)

    def char_width(self, ch: str, bold: bool) -> int:
        width = self._widths[bold].get(ch)
        if width is None:
            width = self._full_face(ch, bold)[1].widths.get(ch, 0)
        return width

    def _full_face(self, ch: str, bold: bool) -> tuple[str, Face]:
        full = self.library.full()
        style = "B" if bold and ch in full["B"].widths else ""
        return FALLBACK_FAMILY, full[style]

    def width(self, text: str, style: Style) -> float:
        widths = self._widths[style.bold]
        try:
            units = sum(widths[ch] for ch in text)
        except KeyError:
            units = sum(self.char_width(ch, style.bold) for ch in text)
        return units * style.size / 1000 * PT

    def wrap(self, text: str, style: Style, width: float) -> list[str]:
        """Greedy line breaking at spaces; a word longer than the line is cut where needed."""
        lines: list[str] = []
        space = self.width(" ", style)
        for paragraph in self.clean(text).split("\n"):
            line, line_width = "", 0.0
            for word in paragraph.split(" "):
                if not word:
                    continue
                word_width = self.width(word, style)
                if line and line_width + space + word_width <= width:
                    line, line_width = f"{line} {word}", line_width + space + word_width
                    continue
                if line:
                    lines.append(line)
                line, line_width = word, word_width
                while line_width > width:
                    head, line = self._cut(line, style, width)
                    lines.append(head)
                    line_width = self.width(line, style)
            lines.append(line)
        return lines

    def _cut(self, word: str, style: Style, width: float) -> tuple[str, str]:
        """The longest head of `word` that fits, ended after `_`, `-`, `/` or `.` when one falls
        in its second half (file names), else cut anywhere."""
        scale = style.size / 1000 * PT
        used = 0.0
        for index, ch in enumerate(word):
            used += self.char_width(ch, style.bold) * scale
            if used > width:
                index = max(index, 1)
                breaks = [word.rfind(mark, 0, index) for mark in BREAKS]
                best = max(breaks) + 1
                if best > index // 2:
                    index = best
                return word[:index], word[index:]
        return word, ""

    def runs(self, text: str, bold: bool) -> list[tuple[str, str, str]]:
        """(family, style, text) pieces: the everyday face, or a full face where it lacks a
        character."""
        style = "B" if bold else ""
        widths = self._widths[bold]
        runs: list[tuple[str, str, str]] = []
        for ch in text:
            if ch in widths or ch == " ":
                family, face_style = FAMILY, style
            else:
                family = FALLBACK_FAMILY
                face_style = "B" if bold and ch in self.library.full()["B"].widths else ""
            if runs and runs[-1][0] == family and runs[-1][1] == face_style:
                runs[-1] = (family, face_style, runs[-1][2] + ch)
            else:
                runs.append((family, face_style, ch))
        return runs


# --- layout: what goes where on which page -------------------------------------------------------


@dataclass(frozen=True)
class TextOp:
    x: float
    baseline: float
    text: str
    style: Style


@dataclass(frozen=True)
class RuleOp:
    x1: float
    x2: float
    y: float
    colour: Colour = RULE
    width: float = 0.2


@dataclass(frozen=True)
class FillOp:
    x: float
    y: float
    w: float
    h: float
    colour: Colour


Op = TextOp | RuleOp | FillOp


@dataclass(frozen=True)
class Line:
    text: str
    style: Style
    indent: float = 0.0

    @property
    def height(self) -> float:
        return self.style.line_height


@dataclass(frozen=True)
class Para:
    """A paragraph of one style inside a table cell (or on the page)."""

    text: str
    style: Style = BODY
    space_before: float = 0.0


Cell = Sequence[Para]


class Layout:
    """Places lines, tables and rules on pages; opens a new page when one is full."""

    def __init__(self, typesetter: Typesetter) -> None:
        self.typesetter = typesetter
        self.pages: list[list[Op]] = []
        self.y = 0.0
        # A heading just placed: (index of its first op on the page, its top). It moves to the
        # next page with the block that follows if that block does not start on this page.
        self._keep: tuple[int, float] | None = None
        self.new_page()

    @property
    def bottom(self) -> float:
        return PAGE_HEIGHT - BOTTOM

    def new_page(self) -> None:
        carried: list[Op] = []
        y = TOP
        if self._keep is not None and self._keep[1] > TOP:
            index, top = self._keep
            carried = [_shifted(op, TOP - top) for op in self.pages[-1][index:]]
            del self.pages[-1][index:]
            y = TOP + self.y - top
        self._keep = None
        self.pages.append(carried)
        self.y = y

    def room(self) -> float:
        return self.bottom - self.y

    def space(self, height: float) -> None:
        if self.y > TOP:
            self.y = min(self.y + height, self.bottom)

    def ensure(self, height: float) -> None:
        if height > self.room() and self.y > TOP:
            self.new_page()

    def _text(self, x: float, top: float, line: Line) -> None:
        baseline = top + (line.height + line.style.size * PT * 0.7) / 2
        self._keep = None
        self.pages[-1].append(TextOp(x + line.indent, baseline, line.text, line.style))

    def lines(self, cell: Cell, width: float) -> list[Line]:
        result: list[Line] = []
        for para in cell:
            if para.space_before and result:
                result.append(Line("", Style(size=para.space_before / PT, leading=1.0)))
            result.extend(
                Line(t, para.style) for t in self.typesetter.wrap(para.text, para.style, width)
            )
        return result

    def paragraph(self, text: str, style: Style = BODY, indent: float = 0.0) -> None:
        for text_line in self.typesetter.wrap(text, style, CONTENT_WIDTH - indent):
            line = Line(text_line, style, indent)
            self.ensure(line.height)
            self._text(LEFT, self.y, line)
            self.y += line.height

    def heading(self, text: str) -> None:
        self.space(5)
        self.ensure(HEADING.line_height + 16)
        page, keep = len(self.pages), (len(self.pages[-1]), self.y)
        self.paragraph(text, HEADING)
        self.pages[-1].append(RuleOp(LEFT, PAGE_WIDTH - RIGHT, self.y + 0.6, BLUE_FRANCE, 0.4))
        self.y += 2.2
        self._keep = keep if len(self.pages) == page else None

    def rule(self) -> None:
        self.pages[-1].append(RuleOp(LEFT, PAGE_WIDTH - RIGHT, self.y))

    def table(
        self,
        widths: Sequence[float],
        rows: Iterable[Sequence[Cell]],
        header: Sequence[str] | None = None,
    ) -> None:
        """Rows of cells; a row that does not fit goes to the next page, and a row taller than
        a page is split between pages. The header is repeated on every page."""
        header_cells = (
            [
                [Line(t, LABEL) for t in self.typesetter.wrap(h, LABEL, w - 2 * CELL_PADDING)]
                for h, w in zip(header, widths, strict=True)
            ]
            if header
            else None
        )
        remaining = iter(rows)
        first = next(remaining, None)
        if first is None:
            return
        pending = [self._cells(first, widths)]
        if header_cells:
            # The header goes to the next page with the first row rather than alone.
            self.ensure(_height(header_cells) + min(_height(pending[0]), 30))
            self._row(widths, header_cells, fill=HEADER_FILL)
        for cells in _chain(pending, (self._cells(row, widths) for row in remaining)):
            while cells:
                height = _height(cells)
                fresh_page_room = self.bottom - TOP - (_height(header_cells) if header_cells else 0)
                if height > self.room() and (height <= fresh_page_room or self.room() < 15):
                    self.new_page()
                    if header_cells:
                        self._row(widths, header_cells, fill=HEADER_FILL)
                    continue
                fitting, rest = _split(cells, self.room() - 2 * CELL_PADDING)
                self._row(widths, fitting)
                cells = rest if any(rest) else []
                if cells:
                    self.new_page()
                    if header_cells:
                        self._row(widths, header_cells, fill=HEADER_FILL)

    def _cells(self, row: Sequence[Cell], widths: Sequence[float]) -> list[list[Line]]:
        return [self.lines(cell, w - 2 * CELL_PADDING) for cell, w in zip(row, widths, strict=True)]

    def _row(
        self, widths: Sequence[float], cells: list[list[Line]], fill: Colour | None = None
    ) -> None:
        height = _height(cells)
        if fill:
            self.pages[-1].append(FillOp(LEFT, self.y, sum(widths), height, fill))
        x = LEFT
        for cell, width in zip(cells, widths, strict=True):
            top = self.y + CELL_PADDING
            for line in cell:
                if line.text:
                    self._text(x + CELL_PADDING, top, line)
                top += line.height
            x += width
        self.y += height
        self.rule()


def _chain(*parts: Iterable[list[list[Line]]]) -> Iterator[list[list[Line]]]:
    for part in parts:
        yield from part


def _shifted(op: Op, dy: float) -> Op:
    if isinstance(op, TextOp):
        return replace(op, baseline=op.baseline + dy)
    return replace(op, y=op.y + dy)


def _height(cells: list[list[Line]] | None) -> float:
    if not cells:
        return 0.0
    return max(sum(line.height for line in cell) for cell in cells) + 2 * CELL_PADDING


def _split(cells: list[list[Line]], room: float) -> tuple[list[list[Line]], list[list[Line]]]:
    """The lines of each cell that fit in `room`, and the rest (empty when all fit)."""
    if _height(cells) - 2 * CELL_PADDING <= room:
        return cells, []
    fitting, rest = [], []
    for cell in cells:
        used, count = 0.0, 0
        while count < len(cell) and used + cell[count].height <= room:
            used += cell[count].height
            count += 1
        count = max(count, 1) if room > 0 and cell else count
        fitting.append(cell[:count])
        rest.append(cell[count:])
    return fitting, rest


# --- what the attestations say -----------------------------------------------------------------


def paris(moment: datetime) -> datetime:
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(PARIS)


def date_and_time(moment: datetime) -> str:
    """Like "15/06/2024 à 16:30 (heure de Paris)"."""
    local = paris(moment)
    return f"{local:%d/%m/%Y} à {local:%H:%M} (heure de Paris)"


def _or_unknown(value: str | None, unknown: str = "Non renseigné") -> str:
    return value if value and value.strip() else unknown


@dataclass(frozen=True)
class Edition:
    """What differs between the candidate's copy and the buyer's."""

    title: str
    for_buyer: bool


CANDIDATE = Edition(title="Attestation de candidature", for_buyer=False)
BUYER = Edition(title="Attestation acheteur", for_buyer=True)


class Attestation:
    """Lays out one attestation of a dossier."""

    def __init__(self, dossier: Dossier, edition: Edition, typesetter: Typesetter) -> None:
        self.dossier = dossier
        self.edition = edition
        self.layout = Layout(typesetter)
        self.names = member_names(dossier)

    def compose(self) -> list[list[Op]]:
        self._title()
        self._market()
        self._company()
        for section in self.dossier.sections:
            if section.answers:
                self.layout.heading(section.title)
                self.layout.table(
                    (LABEL_WIDTH, CONTENT_WIDTH - LABEL_WIDTH),
                    ([[Para(a.title, LABEL)], self._answer(a)] for a in section.answers),
                )
        self._declaration()
        self._documents()
        self._certification()
        return self.layout.pages

    def _title(self) -> None:
        layout, dossier = self.layout, self.dossier
        layout.paragraph("RÉPUBLIQUE FRANÇAISE", KICKER)
        layout.paragraph("Passe Marché", Style(size=9, colour=GREY))
        layout.space(6)
        layout.paragraph(self.edition.title, TITLE)
        layout.space(1.5)
        company = _or_unknown(dossier.company_name, "l’entreprise")
        layout.paragraph(
            f"Candidature n° {dossier.application_identifier} de {company}, transmise le "
            f"{date_and_time(dossier.submitted_at)}.",
            Style(size=10.5),
        )
        if self.edition.for_buyer:
            layout.paragraph(
                "Chaque information porte sa provenance : « Récupéré automatiquement » (sources "
                "de données de l’administration) ou « Déclaré par le candidat ».",
                Style(size=9, colour=GREY),
            )

    def _key_values(self, rows: Iterable[tuple[str, str]]) -> None:
        self.layout.table(
            (LABEL_WIDTH, CONTENT_WIDTH - LABEL_WIDTH),
            ([[Para(label, LABEL)], [Para(value)]] for label, value in rows),
        )

    def _market(self) -> None:
        market = self.dossier.market
        self.layout.heading("Marché")
        lots = "\n".join(market.lots_chosen) if market.lots_chosen else "Marché sans lots"
        buyer = _or_unknown(market.buyer_name)
        if market.buyer_siret.strip():
            buyer += f" (SIRET {market.buyer_siret})"
        self._key_values(
            [
                ("Nom du marché", market.name),
                ("Identifiant", market.identifier),
                ("Acheteur", buyer),
                ("Type de marché", ", ".join(market.market_type_labels) or "Non renseigné"),
                ("Date limite de remise des candidatures", date_and_time(market.deadline)),
                ("Lots concernés par la candidature", lots),
            ]
        )

    def _company(self) -> None:
        self.layout.heading("Entreprise candidate")
        self._key_values(
            [
                ("SIRET", _or_unknown(self.dossier.company_siret)),
                ("Raison sociale", _or_unknown(self.dossier.company_name, "Non renseignée")),
            ]
        )

    def _answer(self, answer: DossierAnswer) -> list[Para]:
        source = f" (source : {answer.source})" if answer.source else ""
        tag = ORIGIN_LABELS[answer.origin] + (source if answer.origin is Origin.PREFILLED else "")
        tag_style = Style(size=8, bold=True, colour=ORIGIN_COLOURS[answer.origin])
        # Both copies print every value; pre-filled ones name their source (the candidate sees
        # what the administration said about the company), and the buyer's copy tags every value.
        values = [line for line in answer.lines if line.strip()]
        if not values and not answer.documents:
            values = ["Non renseigné"]
        paras = [Para(line) for line in values]
        if self.edition.for_buyer or answer.origin is Origin.PREFILLED:
            paras.append(Para(tag, tag_style, space_before=0.8))
        for document in answer.documents:
            paras.append(Para(f"Document : {self._document_name(document)}", SMALL, 0.6))
        return paras

    def _document_name(self, document: DossierDocument) -> str:
        if self.edition.for_buyer:
            return self.names.get(document, document.package_name)
        return document.original_name

    def _declaration(self) -> None:
        self.layout.heading("Déclaration sur l’honneur")
        declaration = self.dossier.declaration.strip()
        if declaration:
            self.layout.paragraph(declaration)
        else:
            self.layout.paragraph("L’attestation sur l’honneur est manquante.", LABEL)

    def _documents(self) -> None:
        documents = self.dossier.all_documents()
        layout = self.layout
        if not self.edition.for_buyer:
            layout.heading("Vos documents")
            if not documents:
                layout.paragraph("Aucun document transmis.")
                return
            layout.paragraph(
                "Vos documents sont renommés dans le dossier remis à l’acheteur :", SMALL
            )
            layout.space(1.5)
            layout.table(
                (CONTENT_WIDTH / 2 - 4, 8, CONTENT_WIDTH / 2 - 4),
                (
                    [
                        [Para(d.original_name)],
                        [Para("→")],
                        [Para(self.names.get(d, d.package_name))],
                    ]
                    for d in documents
                ),
                header=("Nom d’origine", "", "Nom dans le dossier"),
            )
            return
        layout.heading("Documents du dossier")
        if not documents:
            layout.paragraph("Aucun document transmis.")
            return
        layout.paragraph(
            "Les documents sont dans l’archive du dossier de candidature, sous ces noms :", SMALL
        )
        layout.space(1.5)
        layout.table(
            (CONTENT_WIDTH - 52, 52),
            (
                [
                    [Para(self.names.get(d, d.package_name))],
                    [
                        Para(
                            ORIGIN_LABELS[d.origin],
                            Style(size=8, bold=True, colour=ORIGIN_COLOURS[d.origin]),
                        )
                    ],
                ]
                for d in documents
            ),
            header=("Nom dans le dossier", "Provenance"),
        )

    def _certification(self) -> None:
        dossier, layout = self.dossier, self.layout
        company = _or_unknown(dossier.company_name, "l’entreprise candidate")
        if dossier.company_siret.strip():
            company += f" (SIRET {dossier.company_siret})"
        when = date_and_time(dossier.submitted_at)
        layout.heading("Certification")
        if self.edition.for_buyer:
            paragraphs = [
                f"Ce document récapitule la candidature de {company} au marché "
                f"« {dossier.market.name} » "
                f"({dossier.market.identifier}), transmise par Passe Marché le {when}.",
                "Les informations « Récupéré automatiquement » proviennent des sources de données "
                "de l’administration à la date de la candidature ; les informations « Déclaré "
                "par le candidat » sont engagées sous sa responsabilité.",
                "Les documents cités sont ceux de l’archive du dossier de candidature, sous le "
                "nom indiqué.",
            ]
        else:
            paragraphs = [
                f"Cette attestation certifie que la candidature de {company} au marché "
                f"« {dossier.market.name} » "
                f"({dossier.market.identifier}) a été soumise avec succès le {when} par "
                "l’intermédiaire de Passe Marché.",
                "Les informations récupérées automatiquement sont à jour à la date de la "
                "candidature, selon les sources de données de l’administration.",
                "Le candidat atteste sur l’honneur de l’exactitude des informations déclarées "
                "et des documents transmis.",
            ]
        for text in paragraphs:
            layout.paragraph(text)
            layout.space(1.5)


# --- drawing -------------------------------------------------------------------------------------


class FpdfDocumentRenderer:
    """`DocumentRenderer` with fpdf2. Fonts are parsed once per process (see fonts.py)."""

    def __init__(self, font_dir: Path = DEFAULT_FONT_DIR) -> None:
        self.font_dir = Path(font_dir)

    @property
    def library(self) -> FontLibrary:
        return font_library(self.font_dir)

    def warm_up(self) -> None:
        """Parses the fonts now (a worker may call it at start, not on its first job)."""
        self.library.everyday()

    def candidate_attestation(self, dossier: Dossier) -> bytes:
        return self._render(dossier, CANDIDATE)

    def buyer_attestation(self, dossier: Dossier) -> bytes:
        return self._render(dossier, BUYER)

    def _render(self, dossier: Dossier, edition: Edition) -> bytes:
        typesetter = Typesetter(self.library)
        pages = Attestation(dossier, edition, typesetter).compose()
        pdf = FPDF(orientation="P", unit="mm", format="A4")
        pdf.set_auto_page_break(False)
        pdf.set_margins(LEFT, TOP, RIGHT)
        for style, face in typesetter.everyday.items():
            face.lend_to(pdf, FAMILY + style)
        if typesetter.uses_full_faces:
            for style, face in self.library.full().items():
                face.lend_to(pdf, FALLBACK_FAMILY + style)
        _metadata(pdf, dossier, edition)
        drawer = _Drawer(pdf, typesetter)
        running = (
            f"{edition.title} – {dossier.application_identifier} – "
            f"{typesetter.clean(_or_unknown(dossier.company_name, dossier.company_siret or '—'))}"
        )
        footer = (
            f"Document généré automatiquement le {date_and_time(dossier.generated_at)} – "
            "Système Passe Marché"
        )
        for number, ops in enumerate(pages, start=1):
            pdf.add_page()
            for op in ops:
                drawer.draw(op)
            if number > 1:
                drawer.draw(TextOp(LEFT, 12, running, RUNNING))
            drawer.draw(RuleOp(LEFT, PAGE_WIDTH - RIGHT, PAGE_HEIGHT - 15))
            drawer.draw(TextOp(LEFT, PAGE_HEIGHT - 11, footer, RUNNING))
            drawer.right(
                PAGE_WIDTH - RIGHT, PAGE_HEIGHT - 11, f"Page {number} / {len(pages)}", RUNNING
            )
            if dossier.test_watermark:
                drawer.watermark()
        return bytes(pdf.output())


def _metadata(pdf: FPDF, dossier: Dossier, edition: Edition) -> None:
    pdf.set_title(f"{edition.title} – {dossier.application_identifier}")
    pdf.set_author(AUTHOR)
    pdf.set_creator(AUTHOR)
    pdf.set_subject(f"Candidature au marché {dossier.market.identifier}")
    pdf.set_lang("fr-FR")
    created = dossier.generated_at
    pdf.set_creation_date(created if created.tzinfo else created.replace(tzinfo=UTC))


class _Drawer:
    def __init__(self, pdf: FPDF, typesetter: Typesetter) -> None:
        self.pdf = pdf
        self.typesetter = typesetter

    def draw(self, op: Op) -> None:
        pdf = self.pdf
        if isinstance(op, TextOp):
            self.text(op.x, op.baseline, op.text, op.style)
        elif isinstance(op, RuleOp):
            pdf.set_draw_color(*op.colour)
            pdf.set_line_width(op.width)
            pdf.line(op.x1, op.y, op.x2, op.y)
        else:
            pdf.set_fill_color(*op.colour)
            pdf.rect(op.x, op.y, op.w, op.h, style="F")

    def text(self, x: float, baseline: float, text: str, style: Style) -> None:
        pdf = self.pdf
        pdf.set_text_color(*style.colour)
        for family, face_style, piece in self.typesetter.runs(text, style.bold):
            pdf.set_font(family, face_style, style.size)
            pdf.text(x, baseline, piece)
            x += self.typesetter.width(piece, style)

    def right(self, x: float, baseline: float, text: str, style: Style) -> None:
        self.text(x - self.typesetter.width(text, style), baseline, text, style)

    def watermark(self) -> None:
        """The words "Attestation de test" across the page, light grey and translucent, drawn
        over the text so that no filled box hides them."""
        style = Style(size=54, colour=WATERMARK_GREY)
        width = self.typesetter.width(WATERMARK, style)
        centre_x, centre_y = PAGE_WIDTH / 2, PAGE_HEIGHT / 2
        with self.pdf.local_context(fill_opacity=0.45), self.pdf.rotation(55, centre_x, centre_y):
            self.text(centre_x - width / 2, centre_y + style.size * PT * 0.35, WATERMARK, style)
