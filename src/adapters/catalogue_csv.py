"""Reading the attribute catalogue file (the published `fields.csv` format).

The header is the row whose first cell is `category_key` (row 4 in the published file); only rows
with `import=oui` belong to the catalogue. A malformed file is refused as a whole with the line
number; rows of an input type we do not support are skipped and reported.
"""

from __future__ import annotations

import csv
import io
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from pathlib import Path

from passemarche.domain.catalogue import SOURCE_TYPES, Attribute, Category, Subcategory
from passemarche.domain.market import MarketType

REQUIRED_COLUMNS = (
    "category_key", "subcategory_key", "key", "category_acheteur", "subcategory_acheteur",
    "titre_acheteur", "description_acheteur", "obligatoire", "category_candidat",
    "subcategory_candidat", "titre_candidat", "description_candidat", "type", "services",
    "fournitures", "travaux", "défense", "import", "API",
)  # fmt: skip
SOURCE_FIELD_COLUMN = "Informations récupérées par l'API"
_TYPE_COLUMNS = {
    "services": MarketType.SERVICES.value,
    "fournitures": MarketType.SUPPLIES.value,
    "travaux": MarketType.WORKS.value,
    "défense": MarketType.DEFENSE.value,
}
_YES_NO = {"oui": True, "non": False}


class CatalogueFileError(ValueError):
    def __init__(self, line: int | None, message: str) -> None:
        where = f"line {line}: " if line else ""
        super().__init__(f"{where}{message}")
        self.line = line


@dataclass
class ParsedCatalogue:
    categories: list[Category] = field(default_factory=list)
    subcategories: list[Subcategory] = field(default_factory=list)
    attributes: list[Attribute] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)


def read_catalogue_file(path: str | Path) -> ParsedCatalogue:
    try:
        text = Path(path).read_text(encoding="utf-8-sig")
    except UnicodeDecodeError as error:
        raise CatalogueFileError(None, f"the file is not UTF-8 ({error.reason})") from error
    return parse_catalogue(text)


def parse_catalogue(text: str) -> ParsedCatalogue:
    reader = csv.reader(io.StringIO(text, newline=""))
    header: list[str] | None = None
    parsed = ParsedCatalogue()
    seen_categories: dict[str, Category] = {}
    seen_subcategories: dict[str, Subcategory] = {}
    seen_keys: set[str] = set()
    labels: dict[str, dict[str, Counter[str]]] = defaultdict(
        lambda: {"buyer": Counter(), "candidate": Counter()}
    )
    try:
        for row in reader:
            line = reader.line_num
            if header is None:
                if row and row[0].strip() == "category_key":
                    header = [cell.strip() for cell in row]
                    missing = [c for c in REQUIRED_COLUMNS if c not in header]
                    if missing:
                        raise CatalogueFileError(line, f"missing columns: {', '.join(missing)}")
                continue
            if not any(cell.strip() for cell in row):
                continue
            values = {
                name: (row[i].strip() if i < len(row) else "") for i, name in enumerate(header)
            }
            if values.get("import", "").lower() == "oui" and values.get("category_key"):
                # The file repeats the labels on every row, not always the same: most wins.
                counts = labels[values["category_key"]]
                counts["buyer"][values.get("category_acheteur", "")] += 1
                counts["candidate"][values.get("category_candidat", "")] += 1
            _parse_row(values, line, parsed, seen_categories, seen_subcategories, seen_keys)
    except csv.Error as error:
        raise CatalogueFileError(reader.line_num, f"unreadable CSV ({error})") from error
    if header is None:
        raise CatalogueFileError(None, "no header row starting with 'category_key'")
    for category in parsed.categories:
        category.buyer_label = _most_common(labels[category.key]["buyer"]) or category.buyer_label
        category.candidate_label = (
            _most_common(labels[category.key]["candidate"]) or category.candidate_label
        )
    if not parsed.attributes:
        raise CatalogueFileError(None, "no attribute to import (no row with import=oui)")
    return parsed


def _most_common(counter: Counter[str]) -> str | None:
    labels = [(count, label) for label, count in counter.items() if label]
    return max(labels)[1] if labels else None


def _flag(values: dict[str, str], column: str, line: int) -> bool:
    value = values[column].lower()
    if value not in _YES_NO:
        raise CatalogueFileError(line, f"column {column!r} must be 'oui' or 'non', not {value!r}")
    return _YES_NO[value]


def _parse_row(
    values: dict[str, str],
    line: int,
    parsed: ParsedCatalogue,
    categories: dict[str, Category],
    subcategories: dict[str, Subcategory],
    keys: set[str],
) -> None:
    if not _flag(values, "import", line):
        return
    for column in ("category_key", "subcategory_key", "key", "titre_acheteur", "titre_candidat"):
        if not values[column]:
            raise CatalogueFileError(line, f"column {column!r} is empty")
    key = values["key"]
    if key in keys:
        raise CatalogueFileError(line, f"the key {key!r} appears twice")
    keys.add(key)
    mandatory = _flag(values, "obligatoire", line)
    market_types = [code for column, code in _TYPE_COLUMNS.items() if _flag(values, column, line)]
    input_type = SOURCE_TYPES.get(values["type"])
    if input_type is None:
        parsed.skipped.append(f"line {line}: {key} (unsupported type {values['type']!r})")
        return
    if not market_types:
        raise CatalogueFileError(line, f"{key} applies to no market type")
    category_key = values["category_key"]
    if category_key not in categories:
        categories[category_key] = Category(
            key=category_key,
            buyer_label=values["category_acheteur"] or category_key,
            candidate_label=values["category_candidat"] or category_key,
            position=len(categories) + 1,
        )
        parsed.categories.append(categories[category_key])
    subcategory_key = values["subcategory_key"]
    if subcategory_key not in subcategories:
        subcategories[subcategory_key] = Subcategory(
            key=subcategory_key,
            category_key=category_key,
            buyer_label=values["subcategory_acheteur"] or subcategory_key,
            candidate_label=values["subcategory_candidat"] or subcategory_key,
            position=len(subcategories) + 1,
        )
        parsed.subcategories.append(subcategories[subcategory_key])
    elif subcategories[subcategory_key].category_key != category_key:
        raise CatalogueFileError(line, f"subcategory {subcategory_key!r} is in two categories")
    source = values["API"] or None
    parsed.attributes.append(
        Attribute(
            key=key,
            category_key=category_key,
            subcategory_key=subcategory_key,
            buyer_title=values["titre_acheteur"],
            buyer_description=values["description_acheteur"],
            candidate_title=values["titre_candidat"],
            candidate_description=values["description_candidat"],
            input_type=input_type.value,
            mandatory=mandatory,
            market_types=market_types,
            position=len(parsed.attributes) + 1,
            source=source,
            source_field=(values.get(SOURCE_FIELD_COLUMN) or None) if source else None,
        )
    )
