"""Pre-fill rules and use cases on fakes: a source's values as answers, the fetches' life (start
once, one job per source, unconfigured sources unavailable, the global deadline, a late job
storing nothing), documents checked and scanned, the candidate's typed values never overwritten,
and the buyer's name lookup."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
from passemarche.adapters.catalogue_csv import parse_catalogue
from passemarche.adapters.memory import MemoryStore, MemoryUnitOfWork
from passemarche.domain.answers import Answer
from passemarche.domain.catalogue import InputType
from passemarche.domain.prefill import (
    CompanyQuery,
    FetchedDocument,
    FetchStatus,
    SourceFetch,
    SourceReport,
    SourceValue,
    answer_value,
    manual_reason,
)
from passemarche.services import applications, editors, markets, prefill, tokens
from passemarche.services.catalogue import load_catalogue
from passemarche.services.ports import ScanResult, ScanVerdict

from tests.support import FakeStorage, FixedClock, RecordingJobQueue, market_payload

CATALOGUE = Path(__file__).parents[2] / "src" / "data" / "market_attributes_catalogue.csv"
PDF = b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n1 0 obj\n<<>>\nendobj\ntrailer\n<<>>\n%%EOF\n"
HTML = b"<!DOCTYPE html><html><body>Erreur</body></html>"
COMPANY = "identite_entreprise_identification_raison_sociale"
SIRET_KEY = "identite_entreprise_identification_siret"
DIRECTOR = "identite_entreprise_identification_nom_prenom"
LIQUIDATION = "motifs_exclusion_fiscales_et_sociales_liquidation_judiciaire"
SOCIAL = "motifs_exclusion_fiscales_et_sociales_declarations_cotisations_sociales"
HANDICAP = "motifs_exclusion_fiscales_et_sociales_travailleurs_handicapes"
FISCAL = "motifs_exclusion_fiscales_et_sociales_declarations_fiscales"


# --- the domain: a source's value as an answer --------------------------------------------------


def test_text_and_url_values_become_text_answers():
    assert answer_value(InputType.TEXT, SourceValue(text=" DINUM ")) == {
        "text": "DINUM",
        "lines": ["DINUM"],
    }
    url = answer_value(InputType.URL, SourceValue(text="https://x.fr/1", lines=("Valable un an",)))
    assert url == {"text": "https://x.fr/1", "lines": ["https://x.fr/1", "Valable un an"]}
    assert answer_value(InputType.TEXT, SourceValue(text="  ")) is None
    assert answer_value(InputType.TEXT, SourceValue()) is None


def test_a_flag_answers_a_yes_no_question_with_its_details():
    found = answer_value(InputType.RADIO_WITH_FILE_AND_TEXT, SourceValue(flag=True, lines=("A",)))
    assert found == {"choice": "oui", "text": "A", "lines": ["Oui", "A"]}
    none = answer_value(InputType.RADIO_WITH_FILE_AND_TEXT, SourceValue(flag=False))
    assert none == {"choice": "non", "text": "", "lines": ["Non"]}
    assert answer_value(InputType.RADIO_WITH_FILE_AND_TEXT, SourceValue()) is None


def test_turnover_rows_fill_the_table_from_the_most_recent_year():
    rows = (
        {"turnover": 800000, "fiscal_year_end": "2021-12-31"},
        {"turnover": 900001, "fiscal_year_end": "2023-12-31"},
        {"turnover": "n/a", "fiscal_year_end": "2022-12-31"},  # unusable: skipped
    )
    answer = answer_value(InputType.TURNOVER_TABLE, SourceValue(rows=rows))
    assert answer["year1"] == {
        "turnover": 900001,
        "percentage": None,
        "fiscal_year_end": "2023-12-31",
    }
    assert answer["year2"]["fiscal_year_end"] == "2021-12-31"
    assert answer["year3"] == {}
    assert answer["lines"][0] == "Exercice clos le 31/12/2023 : 900\u00a0001\u00a0€"
    assert answer_value(InputType.TURNOVER_TABLE, SourceValue(rows=())) is None


def test_documents_answer_file_attributes_and_nothing_answers_nothing():
    document = FetchedDocument("a.pdf", PDF)
    assert answer_value(InputType.INLINE_FILE_UPLOAD, SourceValue(documents=(document,))) == {
        "lines": []
    }
    assert answer_value(InputType.FILE_UPLOAD, SourceValue()) is None
    assert answer_value(InputType.TEAM_MEMBERS, SourceValue(text="x")) is None


def test_a_report_only_holds_outcomes_and_a_fetch_ends_once():
    with pytest.raises(ValueError):
        SourceReport(FetchStatus.RUNNING)
    clock = FixedClock()
    fetch = SourceFetch("app", "insee", "pending", clock.now(), clock.now() + timedelta(seconds=5))
    assert not fetch.expire(clock.now())
    assert fetch.start() and fetch.status == "running"
    clock.advance(seconds=5)
    assert fetch.expire(clock.now()) and fetch.status == "failed"
    assert not fetch.start()
    assert not fetch.expire(clock.now())


def test_manual_reasons_name_the_source_in_french():
    assert manual_reason("insee", FetchStatus.FAILED) == (
        "La récupération automatique (source « INSEE — répertoire Sirene ») a échoué : "
        "renseignez cette information."
    )
    assert "n’est pas disponible" in manual_reason("bodacc", FetchStatus.UNAVAILABLE)
    assert manual_reason("insee", FetchStatus.RUNNING) is None


# --- the use cases ------------------------------------------------------------------------------


class Scanner:
    def __init__(self, verdict=ScanVerdict.CLEAN):
        self.verdict = verdict
        self.scanned = 0

    def scan(self, stream):
        stream.read()
        self.scanned += 1
        return ScanResult(self.verdict)


class FakeSources:
    """Answers by source name; records every query."""

    def __init__(self, reports, covered=None):
        self.reports = reports
        self.covered = set(reports) if covered is None else set(covered)
        self.queries = []

    def covers(self, source):
        return source in self.covered

    def fetch(self, source, query):
        self.queries.append((source, query))
        report = self.reports[source]
        if isinstance(report, Exception):
            raise report
        return report


INSEE = SourceReport(
    FetchStatus.COMPLETED,
    {
        "siret": SourceValue(text="13002526500013"),
        "social_reason": SourceValue(text="DIRECTION INTERMINISTERIELLE DU NUMERIQUE"),
        "main_activity": SourceValue(text="Administration publique générale (8411Z)"),
        "category": SourceValue(text="Grande entreprise (GE)"),
    },
)
URSSAF = SourceReport(
    FetchStatus.COMPLETED,
    {"document": SourceValue(documents=(FetchedDocument("attestation_vigilance.pdf", PDF),))},
)
BODACC = SourceReport(
    FetchStatus.COMPLETED,
    {
        "liquidation_judiciaire": SourceValue(flag=True, lines=("Liquidation judiciaire",)),
        "faillite_interdiction": SourceValue(flag=False, lines=("Aucune annonce",)),
    },
)


@pytest.fixture
def world():
    store, clock = MemoryStore(), FixedClock()
    uow = lambda: MemoryUnitOfWork(store)  # noqa: E731
    parsed = parse_catalogue(CATALOGUE.read_text(encoding="utf-8"))
    load_catalogue(uow(), clock, parsed.categories, parsed.subcategories, parsed.attributes)
    creds = editors.create_editor(uow(), clock, "Plateforme")
    tokens.record_issued_token(uow(), clock, creds.client_id, "tok", None)
    principal = tokens.authenticate(uow(), clock, "tok")
    market_id = markets.create_market(uow(), clock, principal, market_payload()).identifier
    with uow() as work:
        market = work.markets.get(market_id)
        market.finalise(work.catalogue.snapshot().mandatory_keys(["services"]), clock.now())
        work.commit()
    app_id = applications.create_application(
        uow(), clock, principal, market_id, {"siret": "13002526500013"}
    ).identifier
    return store, clock, uow, app_id


def start(world, sources, deadline=60):
    store, clock, uow, app_id = world
    jobs = RecordingJobQueue()
    started = prefill.start_prefill(
        uow(), clock, jobs, sources, app_id, timedelta(seconds=deadline)
    )
    return started, jobs


def run(world, sources, source, storage=None, scanner=None):
    store, clock, uow, app_id = world
    return prefill.fetch_company_data(
        uow(), clock, storage or FakeStorage(), scanner or Scanner(), sources, app_id, source
    )


def test_starting_queues_one_job_per_configured_source_once(world):
    store, clock, uow, app_id = world
    sources = FakeSources({"insee": INSEE, "bodacc": BODACC})
    started, jobs = start(world, sources)
    assert started
    assert sorted(jobs.jobs) == [
        ("fetch_company_data", (app_id, "bodacc")),
        ("fetch_company_data", (app_id, "insee")),
    ]
    view = prefill.prefill_view(uow(), clock, app_id)
    statuses = view.statuses()
    # The mandatory attributes of a services market name five sources; three are not configured.
    assert statuses == {
        "insee": "pending",
        "rne": "unavailable",
        "bodacc": "pending",
        "urssaf_attestation_vigilance": "unavailable",
        "attestations_fiscales": "unavailable",
    }
    assert [s.source for s in view.sources][:3] == ["insee", "rne", "bodacc"]  # page order
    assert not view.finished
    again, more_jobs = start(world, sources)
    assert not again and more_jobs.jobs == []  # once only


def test_nothing_configured_ends_at_once_and_says_so(world):
    store, clock, uow, app_id = world
    started, jobs = start(world, FakeSources({}))
    assert started and jobs.jobs == []
    view = prefill.prefill_view(uow(), clock, app_id)
    assert view.finished and view.nothing_configured


def test_a_completed_source_fills_its_attributes_with_their_origin(world):
    store, clock, uow, app_id = world
    sources = FakeSources({"insee": INSEE})
    start(world, sources)
    assert run(world, sources, "insee") == "completed"
    answer = store.answers[(app_id, COMPANY)]
    assert answer.origin == "prefilled" and answer.source == "insee"
    assert answer.value["text"] == "DIRECTION INTERMINISTERIELLE DU NUMERIQUE"
    assert store.prefill[(app_id, "insee")].filled == 4
    (query_source, query) = sources.queries[0]
    assert query == CompanyQuery(
        siret="13002526500013",
        recipient_siret="13002526500013",  # the buyer's SIRET of market_payload()
        object="Réponse marché: Fourniture de matériel informatique",
    )
    assert run(world, sources, "insee") is None  # a job run twice does nothing


def test_documents_are_checked_scanned_stored_and_given_to_both_attributes(world):
    store, clock, uow, app_id = world
    sources = FakeSources({"urssaf_attestation_vigilance": URSSAF})
    storage, scanner = FakeStorage(), Scanner()
    start(world, sources)
    run(world, sources, "urssaf_attestation_vigilance", storage, scanner)
    documents = [d for d in store.documents.values() if d.application_identifier == app_id]
    assert sorted(d.attribute_key for d in documents) == sorted([SOCIAL, HANDICAP])
    assert {d.origin for d in documents} == {"prefilled"}
    assert {d.content_type for d in documents} == {"application/pdf"}
    assert all(storage.files[d.storage_key] == PDF for d in documents)
    assert scanner.scanned == 2


@pytest.mark.parametrize(
    ("content", "verdict"),
    [(HTML, ScanVerdict.CLEAN), (PDF, ScanVerdict.INFECTED), (PDF, ScanVerdict.FAILED)],
)
def test_a_refused_document_leaves_its_attribute_manual_and_stores_nothing(world, content, verdict):
    store, clock, uow, app_id = world
    report = SourceReport(
        FetchStatus.COMPLETED, {"document": SourceValue(documents=(FetchedDocument("a", content),))}
    )
    sources = FakeSources({"attestations_fiscales": report})
    storage = FakeStorage()
    start(world, sources)
    assert run(world, sources, "attestations_fiscales", storage, Scanner(verdict)) == "completed"
    assert (app_id, FISCAL) not in store.answers
    assert storage.files == {}
    assert store.prefill[(app_id, "attestations_fiscales")].filled == 0


@pytest.mark.parametrize(
    "outcome", [FetchStatus.NOT_FOUND, FetchStatus.FAILED, FetchStatus.UNAVAILABLE]
)
def test_a_source_without_data_ends_with_its_outcome_and_no_answers(world, outcome):
    store, clock, uow, app_id = world
    sources = FakeSources({"insee": SourceReport(outcome)})
    start(world, sources)
    assert run(world, sources, "insee") == outcome.value
    assert not [k for k in store.answers if k[0] == app_id]


def test_an_adapter_that_raises_fails_its_source(world):
    store, clock, uow, app_id = world
    sources = FakeSources({"insee": RuntimeError("bug")})
    start(world, sources)
    assert run(world, sources, "insee") == "failed"


def test_the_candidates_own_value_is_never_overwritten(world):
    store, clock, uow, app_id = world
    sources = FakeSources({"insee": INSEE})
    start(world, sources)
    with uow() as work:
        work.answers.add(Answer(app_id, COMPANY, {"text": "Ma société"}, clock.now()))
        work.commit()
    run(world, sources, "insee")
    assert store.answers[(app_id, COMPANY)].value == {"text": "Ma société"}
    assert store.answers[(app_id, COMPANY)].origin == "declared"
    assert store.answers[(app_id, SIRET_KEY)].origin == "prefilled"


def test_the_global_deadline_fails_what_is_left_and_a_late_job_stores_nothing(world):
    store, clock, uow, app_id = world
    sources = FakeSources({"insee": INSEE, "urssaf_attestation_vigilance": URSSAF})
    start(world, sources, deadline=30)
    clock.advance(seconds=31)
    view = prefill.prefill_view(uow(), clock, app_id)
    assert view.finished
    assert view.statuses()["insee"] == "failed"
    storage = FakeStorage()
    assert run(world, sources, "urssaf_attestation_vigilance", storage) is None
    assert sources.queries == []  # ended before it ran: not even asked
    assert not [k for k in store.answers if k[0] == app_id]


def test_a_job_finishing_after_the_deadline_discards_what_it_stored(world):
    store, clock, uow, app_id = world
    storage = FakeStorage()

    class SlowSources(FakeSources):
        def fetch(self, source, query):
            clock.advance(seconds=120)  # the answer comes after the deadline...
            prefill.prefill_view(uow(), clock, app_id)  # ...which a page view applied
            return super().fetch(source, query)

    sources = SlowSources({"urssaf_attestation_vigilance": URSSAF})
    start(world, sources, deadline=60)
    assert run(world, sources, "urssaf_attestation_vigilance", storage) is None
    assert storage.files == {}
    assert store.prefill[(app_id, "urssaf_attestation_vigilance")].status == "failed"
    assert not [d for d in store.documents.values() if d.application_identifier == app_id]


def test_bodacc_findings_are_answered_yes_with_the_notice(world):
    store, clock, uow, app_id = world
    sources = FakeSources({"bodacc": BODACC})
    start(world, sources)
    run(world, sources, "bodacc")
    answer = store.answers[(app_id, LIQUIDATION)]
    assert answer.value["choice"] == "oui"
    assert answer.value["lines"] == ["Oui", "Liquidation judiciaire"]


def test_the_buyer_name_is_looked_up_once_when_insee_is_configured(world):
    store, clock, uow, app_id = world
    market_id = store.applications[app_id].market_identifier
    jobs = RecordingJobQueue()
    prefill.schedule_buyer_name_lookup(jobs, FakeSources({}), market_id)
    assert jobs.jobs == []
    sources = FakeSources({"insee": INSEE})
    prefill.schedule_buyer_name_lookup(jobs, sources, market_id)
    assert jobs.jobs == [("lookup_buyer_name", (market_id,))]
    name = prefill.lookup_buyer_name(uow(), sources, market_id)
    assert name == "DIRECTION INTERMINISTERIELLE DU NUMERIQUE"
    assert store.markets[market_id].buyer_name == name
    assert (
        sources.queries[0][1].object == "Configuration marché: Fourniture de matériel informatique"
    )
    prefill.lookup_buyer_name(uow(), sources, market_id)
    assert len(sources.queries) == 1  # known: not asked again


def test_an_unknown_buyer_keeps_no_name(world):
    store, clock, uow, app_id = world
    market_id = store.applications[app_id].market_identifier
    sources = FakeSources({"insee": SourceReport(FetchStatus.NOT_FOUND)})
    assert prefill.lookup_buyer_name(uow(), sources, market_id) is None
    assert store.markets[market_id].buyer_name is None


class BrokenStorage(FakeStorage):
    """Fails on its second write (the second attribute of the URSSAF attestation)."""

    def put(self, key, chunks):
        if self.files:
            raise OSError("disk full")
        return super().put(key, chunks)


def test_a_storage_failure_fails_the_source_and_leaves_no_file_behind(world):
    store, clock, uow, app_id = world
    sources = FakeSources({"urssaf_attestation_vigilance": URSSAF})
    storage = BrokenStorage()
    start(world, sources)
    assert run(world, sources, "urssaf_attestation_vigilance", storage) == "failed"
    assert storage.files == {}
    assert not [d for d in store.documents.values() if d.application_identifier == app_id]


def test_a_job_ending_past_the_deadline_stores_nothing_even_if_nobody_looked(world):
    store, clock, uow, app_id = world
    storage = FakeStorage()

    class LateSources(FakeSources):
        def fetch(self, source, query):
            clock.advance(seconds=120)  # past the deadline, no page view meanwhile
            return super().fetch(source, query)

    sources = LateSources({"insee": INSEE})
    start(world, sources, deadline=60)
    assert run(world, sources, "insee", storage) is None
    assert store.prefill[(app_id, "insee")].status == "failed"
    assert (app_id, COMPANY) not in store.answers


def test_a_bodacc_finding_replaces_the_candidates_answer_and_keeps_their_words(world):
    store, clock, uow, app_id = world
    sources = FakeSources({"bodacc": BODACC})
    start(world, sources)
    with uow() as work:
        typed = {"choice": "non", "text": "Redressement clos en 2024."}
        work.answers.add(Answer(app_id, LIQUIDATION, typed, clock.now()))
        work.commit()
    run(world, sources, "bodacc")
    answer = store.answers[(app_id, LIQUIDATION)]
    assert answer.origin == "prefilled" and answer.value["choice"] == "oui"
    assert answer.value["explanation"] == "Redressement clos en 2024."


def test_a_failed_buyer_name_lookup_is_tried_again_later_a_few_times(world):
    store, clock, uow, app_id = world
    market_id = store.applications[app_id].market_identifier
    jobs = RecordingJobQueue()
    failing = FakeSources({"insee": SourceReport(FetchStatus.FAILED)})
    assert prefill.lookup_buyer_name(uow(), failing, market_id, jobs) is None
    assert jobs.calls == [("lookup_buyer_name", (market_id, "2"), timedelta(seconds=60))]
    prefill.lookup_buyer_name(uow(), failing, market_id, jobs, attempt=4)
    assert len(jobs.calls) == 1  # the last attempt: no more
    unknown = FakeSources({"insee": SourceReport(FetchStatus.NOT_FOUND)})
    prefill.lookup_buyer_name(uow(), unknown, market_id, jobs)
    assert len(jobs.calls) == 1  # INSEE does not know it: asking again changes nothing


def test_a_failed_source_may_be_asked_again_twice_and_fill_then(world):
    store, clock, uow, app_id = world
    sources = FakeSources({"insee": SourceReport(FetchStatus.FAILED)})
    start(world, sources)
    run(world, sources, "insee")
    jobs = RecordingJobQueue()

    def again():
        return prefill.run_source_again(
            uow(), clock, jobs, sources, app_id, "insee", timedelta(seconds=60)
        )

    assert prefill.prefill_view(uow(), clock, app_id).sources[0].may_run_again
    sources.reports["insee"] = INSEE  # the outage is over
    assert again()
    assert jobs.jobs == [("fetch_company_data", (app_id, "insee"))]
    assert store.prefill[(app_id, "insee")].status == "pending"
    assert run(world, sources, "insee") == "completed"
    assert store.answers[(app_id, COMPANY)].origin == "prefilled"
    assert not again()  # completed: nothing to ask again


def test_asking_again_is_limited_and_only_for_failed_configured_sources(world):
    store, clock, uow, app_id = world
    sources = FakeSources({"insee": SourceReport(FetchStatus.FAILED)})
    start(world, sources)
    jobs = RecordingJobQueue()

    def again(source="insee"):
        return prefill.run_source_again(
            uow(), clock, jobs, sources, app_id, source, timedelta(seconds=60)
        )

    assert not again()  # still pending: not failed
    run(world, sources, "insee")
    assert again()
    run(world, sources, "insee")
    assert again()
    run(world, sources, "insee")
    assert not again()  # three runs in all
    assert store.prefill[(app_id, "insee")].runs == 3
    assert not again("rne")  # not configured: unavailable, not failed
    assert not again("nope")
