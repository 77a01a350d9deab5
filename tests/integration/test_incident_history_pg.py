"""The incident history query and tokens on a real PostgreSQL (and SQLite beside it).

The same cases as tests/unit/test_access_store.py, so both dialects answer
alike: the carrier scope, every filter, free text with wildcards, sessions
with Vietnamese names stored as JSON, paging and sorting by severity.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import create_engine, select, text

from monitor.storage import Store
from monitor.storage.engine import database_url
from monitor.storage.history import IncidentQuery, conditions
from monitor.storage.schema import incidents
from tests.unit import test_incident_figures as figures_cases
from tests.unit.test_access_store import INCIDENTS, NOW
from tests.unit.test_access_store import test_it_filters_in_the_query as filters_case


@pytest.fixture(params=["sqlite", "postgresql"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Store]:
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'examnet.db'}"
    else:
        url = str(request.getfixturevalue("postgres_url"))
    writer = Store(url, flush_interval=0.01)
    writer.upgrade()
    for record in INCIDENTS:
        writer.add(record)
    assert writer.close() == 0
    reader = Store(url)
    yield reader
    reader.close()


CASES = filters_case.pytestmark[0].args[1]  # type: ignore[attr-defined]


@pytest.mark.parametrize(("query", "expected"), CASES)
def test_it_filters_alike_on_both_databases(
    store: Store, query: IncidentQuery, expected: int
) -> None:
    page = store.access.search(query)
    assert (page.total, len(page.incidents)) == (expected, expected)


def test_a_carrier_scope_holds_on_both_databases(store: Store) -> None:
    page = store.access.search(IncidentQuery(scope="viettel", text="thpt"))
    assert page.total == 2
    assert {i.record.carrier for i in page.incidents} == {"viettel"}
    vnpt = store.access.search(IncidentQuery(carrier="vnpt")).incidents[0]
    assert store.access.incident(vnpt.id, "viettel") is None
    ranked = store.access.search(IncidentQuery(sort="-severity", limit=2))
    assert [i.record.severity for i in ranked.incidents] == ["critical", "critical"]
    assert ranked.total == len(INCIDENTS)


def test_tokens_on_both_databases(store: Store) -> None:
    token, info = store.access.create_token(
        name="Viettel NOC", role="carrier", carrier="viettel", expires_at=None, by="an", now=NOW
    )
    assert store.access.token_for(token, NOW) == info
    store.access.revoke_token(str(info.id), "an", NOW)
    assert store.access.token_for(token, NOW) is None
    assert [r["action"] for r in store.access.audit_log()] == ["token.create", "token.revoke"]


def test_free_text_search_on_postgresql_is_served_by_the_trigram_index(postgres_url: str) -> None:
    """The search's expression is the index's (migration 0009): 100,000 incidents stay fast.

    With sequential scans priced out, the planner takes the index only if
    the WHERE clause is the very expression it was built on.
    """
    store = Store(postgres_url)
    store.upgrade()
    store.close()
    engine = create_engine(database_url(postgres_url, {}))
    query = select(incidents.c.id).where(*conditions(IncidentQuery(text="Lạng Sơn 50%")))
    try:
        with engine.connect() as conn:
            conn.execute(text("SET enable_seqscan = off"))
            compiled = query.compile(conn, compile_kwargs={"literal_binds": True})
            plan = "\n".join(r[0] for r in conn.execute(text(f"EXPLAIN {compiled}")))
    finally:
        engine.dispose()
    assert "ix_incidents_search_trgm" in plan, plan


@pytest.fixture(params=["sqlite", "postgresql"])
def measured(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Store]:
    """The rounds and interface samples of tests/unit/test_incident_figures.py."""
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'examnet.db'}"
    else:
        url = str(request.getfixturevalue("postgres_url"))
    writer = Store(url, flush_interval=0.01)
    writer.upgrade()
    figures_cases.seed(writer)
    assert writer.close() == 0
    reader = Store(url)
    yield reader
    reader.close()


def test_incident_figures_alike_on_both_databases(
    measured: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The join on `'link:' || interface_samples.link` and the thinning by runs of k rows."""
    figures_cases.test_it_charts_a_links_rounds_and_its_interface_from_10_minutes_before_to_10_after(
        measured
    )
    figures_cases.test_a_site_has_its_targets_and_a_carrier_sees_only_its_own(measured)
    figures_cases.test_a_long_incident_is_thinned_evenly_to_the_bound(measured, monkeypatch)
    figures_cases.test_thinning_keeps_every_lost_round_and_the_worst_rtt_in_the_chart(
        measured, monkeypatch
    )
