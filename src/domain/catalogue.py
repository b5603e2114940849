"""The attribute catalogue ("socle de base"): what a buyer may require from candidates.

Categories hold subcategories, which hold attributes. An attribute applies to a market when any
of the market's types is among its types; it is mandatory for that market when it is marked
mandatory and applies. Archived attributes are kept (finalised markets refer to their keys) but
are no longer offered.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum


class InputType(StrEnum):
    TEXT = "text"
    TEXTAREA = "textarea"
    EMAIL = "email"
    PHONE = "phone"
    URL = "url"
    FILE_UPLOAD = "file_upload"
    INLINE_FILE_UPLOAD = "inline_file_upload"
    RADIO_WITH_FILE_AND_TEXT = "radio_with_file_and_text"
    CHECKBOX_WITH_DOCUMENT = "checkbox_with_document"
    FILE_OR_TEXTAREA = "file_or_textarea"
    TURNOVER_TABLE = "turnover_table"
    HEADCOUNT_TABLE = "headcount_table"
    TEAM_MEMBERS = "team_members"
    PAST_DELIVERIES = "past_deliveries"
    SAMPLES = "samples"


# The catalogue file's `type` column → our input types. Anything else is not supported.
SOURCE_TYPES: dict[str, InputType] = {
    "texte": InputType.TEXT,
    "textarea": InputType.TEXTAREA,
    "email": InputType.EMAIL,
    "phone": InputType.PHONE,
    "url": InputType.URL,
    "inline_url": InputType.URL,
    "inline_url_input": InputType.URL,
    "document": InputType.FILE_UPLOAD,
    "inline_document": InputType.INLINE_FILE_UPLOAD,
    "radio_with_file_and_text": InputType.RADIO_WITH_FILE_AND_TEXT,
    "checkbox_with_document": InputType.CHECKBOX_WITH_DOCUMENT,
    "file_or_textarea": InputType.FILE_OR_TEXTAREA,
    "capacite_economique_financiere_chiffre_affaires_global_annuel": InputType.TURNOVER_TABLE,
    "capacite_economique_financiere_effectifs_moyens_annuels": InputType.HEADCOUNT_TABLE,
    "presentation_intervenants": InputType.TEAM_MEMBERS,
    "realisations_livraisons": InputType.PAST_DELIVERIES,
    "capacites_techniques_professionnelles_outillage_echantillons": InputType.SAMPLES,
}


@dataclass(eq=False)
class Category:
    key: str
    buyer_label: str
    candidate_label: str
    position: int


@dataclass(eq=False)
class Subcategory:
    key: str
    category_key: str
    buyer_label: str
    candidate_label: str
    position: int


@dataclass(eq=False)
class Attribute:
    key: str
    category_key: str
    subcategory_key: str
    buyer_title: str
    candidate_title: str
    input_type: str
    mandatory: bool
    market_types: list[str]
    position: int
    buyer_description: str = ""
    candidate_description: str = ""
    source: str | None = None
    source_field: str | None = None
    archived_at: datetime | None = None

    @property
    def is_prefilled(self) -> bool:
        """Retrieved from a data source ("Récupéré automatiquement"), else declared."""
        return bool(self.source)

    def applies_to(self, market_types: Iterable[str]) -> bool:
        return self.archived_at is None and any(t in self.market_types for t in market_types)

    def same_definition(self, other: Attribute) -> bool:
        return all(getattr(self, name) == getattr(other, name) for name in DEFINITION_FIELDS)

    def take_definition_of(self, other: Attribute) -> None:
        for name in DEFINITION_FIELDS:
            setattr(self, name, getattr(other, name))
        self.archived_at = None


# Everything the catalogue file says about an attribute (its key aside).
DEFINITION_FIELDS = (
    "category_key", "subcategory_key", "buyer_title", "candidate_title", "input_type",
    "mandatory", "market_types", "position", "buyer_description", "candidate_description",
    "source", "source_field",
)  # fmt: skip


@dataclass(frozen=True)
class CatalogueSnapshot:
    """The whole catalogue in display order: what the pages and the rules read."""

    categories: Sequence[Category]
    subcategories: Sequence[Subcategory]
    attributes: Sequence[Attribute]

    def for_market(self, market_types: Iterable[str]) -> list[Attribute]:
        types = list(market_types)
        return [a for a in self.attributes if a.applies_to(types)]

    def mandatory_keys(self, market_types: Iterable[str]) -> list[str]:
        return [a.key for a in self.for_market(market_types) if a.mandatory]

    def optional_keys(self, market_types: Iterable[str]) -> list[str]:
        return [a.key for a in self.for_market(market_types) if not a.mandatory]

    def categories_for(self, market_types: Iterable[str]) -> list[Category]:
        used = {a.category_key for a in self.for_market(market_types)}
        return [c for c in self.categories if c.key in used]

    def category(self, key: str) -> Category | None:
        return next((c for c in self.categories if c.key == key), None)

    def subcategory(self, key: str) -> Subcategory | None:
        return next((s for s in self.subcategories if s.key == key), None)

    def attribute(self, key: str) -> Attribute | None:
        return next((a for a in self.attributes if a.key == key), None)


@dataclass
class LoadReport:
    created: int = 0
    updated: int = 0
    archived: int = 0
    unchanged: int = 0
    skipped: list[str] = field(default_factory=list)
