"""Use cases on the attribute catalogue: loading it from the catalogue file, and reading it."""

from __future__ import annotations

from collections.abc import Sequence

from passemarche.domain.catalogue import (
    Attribute,
    CatalogueSnapshot,
    Category,
    LoadReport,
    Subcategory,
)
from passemarche.services.ports import Clock
from passemarche.services.results import detached_copy
from passemarche.services.unit_of_work import AbstractUnitOfWork


def load_catalogue(
    uow: AbstractUnitOfWork,
    clock: Clock,
    categories: Sequence[Category],
    subcategories: Sequence[Subcategory],
    attributes: Sequence[Attribute],
) -> LoadReport:
    """Make the stored catalogue match the file, in one transaction.

    New attributes are created, changed ones updated, ones no longer in the file archived (never
    deleted: finalised markets keep their keys), archived ones present again restored. Loading the
    same file twice changes nothing. Markets keep the keys chosen when they were finalised.
    """
    report = LoadReport()
    now = clock.now()
    with uow:
        current = uow.catalogue.snapshot()
        _upsert(
            current.categories,
            categories,
            uow.catalogue.add_category,
            ("buyer_label", "candidate_label", "position"),
        )
        _upsert(
            current.subcategories, subcategories, uow.catalogue.add_subcategory,
            ("category_key", "buyer_label", "candidate_label", "position"),
        )  # fmt: skip
        existing = {a.key: a for a in current.attributes}
        for incoming in attributes:
            stored = existing.pop(incoming.key, None)
            if stored is None:
                uow.catalogue.add_attribute(incoming)
                report.created += 1
            elif stored.same_definition(incoming) and stored.archived_at is None:
                report.unchanged += 1
            else:
                stored.take_definition_of(incoming)
                report.updated += 1
        for leftover in existing.values():
            if leftover.archived_at is None:
                leftover.archived_at = now
                report.archived += 1
        uow.commit()
    return report


def catalogue_snapshot(uow: AbstractUnitOfWork) -> CatalogueSnapshot:
    with uow:
        snapshot = uow.catalogue.snapshot()
        # Detach plain copies: the pages read them after the unit of work is closed.
        return CatalogueSnapshot(
            categories=[detached_copy(c) for c in snapshot.categories],
            subcategories=[detached_copy(s) for s in snapshot.subcategories],
            attributes=[detached_copy(a) for a in snapshot.attributes],
        )


def _upsert(current, incoming, add, names) -> None:  # type: ignore[no-untyped-def]
    by_key = {row.key: row for row in current}
    for row in incoming:
        stored = by_key.get(row.key)
        if stored is None:
            add(row)
            continue
        for name in names:
            if getattr(stored, name) != getattr(row, name):
                setattr(stored, name, getattr(row, name))
