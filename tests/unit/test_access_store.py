"""API tokens, the incident history query and its carrier scope, on SQLite."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import select

from monitor.model.records import IncidentRecord
from monitor.storage import Store
from monitor.storage.history import IncidentQuery
from monitor.storage.schema import api_tokens
from monitor.storage.tokens import TokenStoreError

NOW = datetime(2026, 6, 11, 7, 0, tzinfo=UTC)


def an_incident(n: int, carrier: str | None, site: str, **changes: object) -> IncidentRecord:
    started = NOW - timedelta(hours=n)
    record = IncidentRecord(
        subject_kind="target",
        subject=f"link:{site}/{carrier or 'none'}",
        kind="down",
        started_at=started,
        severity="critical",
        phase="during",
        reason=f"no echo for 3 rounds (n={n})",
        updated_at=started,
        carrier=carrier,
        site=site,
        sessions=("toán-sáng",),
    )
    return replace(record, **changes)  # type: ignore[arg-type]


INCIDENTS = [
    an_incident(1, "viettel", "thpt-a"),
    an_incident(2, "vnpt", "thpt-a", ended_at=NOW - timedelta(hours=1, minutes=30)),
    an_incident(3, "viettel", "thpt-b", kind="congested", severity="warning"),
    an_incident(4, "fpt", "thpt-c", phase="before", sessions=()),
    an_incident(5, None, "thpt-a", subject_kind="site", subject="site:thpt-a"),
]


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    url = f"sqlite:///{tmp_path / 'examnet.db'}"
    writer = Store(url, flush_interval=0.01)
    writer.upgrade()
    for record in INCIDENTS:
        writer.add(record)
    assert writer.close() == 0
    reader = Store(url)
    yield reader
    reader.close()


def carriers(store: Store, query: IncidentQuery) -> list[str | None]:
    return [i.record.carrier for i in store.access.search(query).incidents]


def test_it_keeps_a_carrier_to_its_own_incidents_in_the_list_and_the_count(store: Store) -> None:
    page = store.access.search(IncidentQuery(scope="viettel"))
    assert page.total == 2
    assert {i.record.carrier for i in page.incidents} == {"viettel"}
    # a filter naming another carrier finds nothing, not that carrier's incidents
    assert store.access.search(IncidentQuery(scope="viettel", carrier="vnpt")).total == 0
    assert store.access.search(IncidentQuery(scope=None)).total == len(INCIDENTS)


def test_it_does_not_find_another_carriers_incident_by_id(store: Store) -> None:
    vnpt = store.access.search(IncidentQuery(carrier="vnpt")).incidents[0]
    assert store.access.incident(vnpt.id, scope="viettel") is None
    assert store.access.incident(vnpt.id, scope="vnpt") is not None
    assert store.access.incident(vnpt.id, scope=None) is not None


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        (IncidentQuery(sites=["thpt-a"]), 3),
        (IncidentQuery(kind="congested"), 1),
        (IncidentQuery(severity="warning"), 1),
        (IncidentQuery(state="closed"), 1),
        (IncidentQuery(state="open"), 4),
        (IncidentQuery(phase="before"), 1),
        (IncidentQuery(session="toán-sáng"), 4),
        (IncidentQuery(session="toán"), 0),
        (IncidentQuery(text="N=3"), 1),
        (IncidentQuery(text="%"), 0),
        (IncidentQuery(text="' OR 1=1 --"), 0),
        (IncidentQuery(since=NOW - timedelta(hours=1, minutes=15)), 4),
        (IncidentQuery(until=NOW - timedelta(hours=3, minutes=30)), 2),
    ],
)
def test_it_filters_in_the_query(store: Store, query: IncidentQuery, expected: int) -> None:
    page = store.access.search(query)
    assert page.total == expected
    assert len(page.incidents) == expected


def test_it_pages_and_sorts(store: Store) -> None:
    first = store.access.search(IncidentQuery(limit=2, sort="started_at"))
    second = store.access.search(IncidentQuery(limit=2, offset=2, sort="started_at"))
    assert first.total == second.total == len(INCIDENTS)
    starts = [i.record.started_at for i in first.incidents + second.incidents]
    assert starts == sorted(starts)
    newest = store.access.search(IncidentQuery(limit=1)).incidents[0]
    assert newest.record.started_at == NOW - timedelta(hours=1)
    by_severity = store.access.search(IncidentQuery(sort="severity")).incidents
    assert by_severity[0].record.severity == "warning"
    with pytest.raises(ValueError, match="sort"):
        store.access.search(IncidentQuery(sort="reason; DROP TABLE incidents"))


def test_it_stores_only_a_digest_of_a_token_and_prints_it_once(store: Store) -> None:
    token, info = store.access.create_token(
        name="Viettel NOC", role="carrier", carrier="viettel", expires_at=None, by="an", now=NOW
    )
    assert token.startswith("exn_")
    assert len(token) > 40
    with store._engine.connect() as conn:
        stored = [str(v) for v in conn.execute(select(api_tokens)).one()]
    assert not any(token in value or token[4:] in value for value in stored)
    assert store.access.token_for(token, NOW) == info
    assert store.access.token_for(token + "x", NOW) is None
    assert [t.name for t in store.access.tokens()] == ["Viettel NOC"]


def test_it_refuses_an_expired_or_revoked_token(store: Store) -> None:
    token, _ = store.access.create_token(
        name="short", role="noc", carrier=None, expires_at=NOW + timedelta(days=1), by="an", now=NOW
    )
    assert store.access.token_for(token, NOW + timedelta(hours=23)) is not None
    assert store.access.token_for(token, NOW + timedelta(days=1)) is None
    store.access.revoke_token("short", "an", NOW)
    assert store.access.token_for(token, NOW) is None
    with pytest.raises(TokenStoreError, match="revoked already"):
        store.access.revoke_token("short", "an", NOW)


@pytest.mark.parametrize(
    ("role", "carrier", "message"),
    [
        ("carrier", None, "needs --carrier"),
        ("noc", "viettel", "needs --carrier"),
        ("root", None, "one of"),
    ],
)
def test_it_refuses_a_token_without_its_scope(
    store: Store, role: str, carrier: str | None, message: str
) -> None:
    with pytest.raises(TokenStoreError, match=message):
        store.access.create_token(
            name="x", role=role, carrier=carrier, expires_at=None, by="an", now=NOW
        )


def test_it_audits_token_changes_and_notes(store: Store) -> None:
    store.access.create_token(
        name="noc-1", role="noc", carrier=None, expires_at=None, by="admin", now=NOW
    )
    store.access.revoke_token("noc-1", "admin", NOW)
    ident = store.access.search(IncidentQuery(limit=1)).incidents[0].id
    assert store.access.add_note(ident, "Lan", "noc-2", "VNPT dispatched a team", NOW)
    assert not store.access.add_note(999999, "Lan", "noc-2", "x", NOW)
    log = [(r["actor"], r["action"], r["subject"]) for r in store.access.audit_log()]
    assert log == [
        ("admin", "token.create", "noc-1"),
        ("admin", "token.revoke", "noc-1"),
        ("noc-2", "incident.note", str(ident)),
    ]
    stored = store.access.incident(ident, None)
    assert stored is not None
    timeline = store.access.timeline(stored, "0123456789abcdef")
    assert [n.note for n in timeline.notes] == ["VNPT dispatched a team"]


def test_the_command_exports_csv_that_a_spreadsheet_opens_in_utf8(
    store: Store, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from monitor.cli import main  # noqa: PLC0415 - the command line, as a user runs it

    url = f"sqlite:///{tmp_path / 'examnet.db'}"
    assert main(["incidents", "--db", url, "--carrier", "viettel", "--format", "csv"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("\ufeffid,started_at,")
    lines = out.splitlines()
    assert len(lines) == 3  # the header and viettel's two
    assert "toán-sáng" in out
    assert main(["incidents", "--db", url, "--session", "toán-sáng", "--format", "json"]) == 0
    assert '"total": 4' in capsys.readouterr().out
    assert main(["incidents", "--db", url, "--state", "closed"]) == 0
    assert "1 of 1 incidents" in capsys.readouterr().out
    # a mistyped carrier or site is an error, not a quiet history
    assert main(["incidents", "--db", url, "--carrier", "vietel"]) == 2
    err = capsys.readouterr().err
    assert "no carrier 'vietel' in the database (it knows: fpt, viettel, vnpt)" in err
    assert main(["incidents", "--db", url, "--site", "thpt"]) == 2
    assert "no site 'thpt' in the database" in capsys.readouterr().err
