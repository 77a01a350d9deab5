"""`examnet silence add|list|expire` and `examnet ack` on a real SQLite database."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from monitor.cli import main
from monitor.storage import Store


def run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main(list(args))
    out, err = capsys.readouterr()
    return code, out, err


def test_a_silence_is_added_listed_with_its_audit_and_expired(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    db = str(tmp_path / "examnet.db")
    code, out, _ = run(capsys, "silence", "add", 'carrier="viettel"', 'site=~"thpt-.*"',
                       "--duration", "2h", "--by", "An", "--comment", "Viettel maintenance",
                       "--db", db)
    assert code == 0
    ident = out.split()[1]
    code, out, _ = run(capsys, "silence", "list", "--json", "--db", db)
    [listed] = json.loads(out)
    assert listed["matchers"] == ['carrier="viettel"', 'site=~"thpt-.*"']
    assert (listed["state"], listed["created_by"], listed["comment"]) == (
        "active", "An", "Viettel maintenance")
    assert run(capsys, "silence", "expire", ident, "--by", "Lan", "--db", db)[0] == 0
    assert "no silence in effect" in run(capsys, "silence", "list", "--db", db)[1]
    code, out, _ = run(capsys, "silence", "list", "--all", "--db", db)
    assert "expired" in out
    assert "ended by Lan" in out


def test_bad_requests_are_refused_with_the_reason_and_store_nothing(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    db = str(tmp_path / "examnet.db")
    code, _, err = run(capsys, "silence", "add", "carrier~viettel", "--duration", "1h",
                       "--by", "An", "--comment", "x", "--db", db)
    assert code == 1
    assert "carrier~viettel" in err
    code, _, err = run(capsys, "silence", "expire", "nope", "--by", "An", "--db", db)
    assert code == 1
    assert "no silence 'nope'" in err
    code, _, err = run(capsys, "ack", "12345", "--by", "Lan", "--db", db)
    assert code == 1
    assert "no incident 12345" in err
    code, _, err = run(capsys, "ack", "not-an-id", "--by", "Lan", "--db", db)
    assert code == 1
    assert "neither an incident id" in err
    store = Store(f"sqlite:///{db}")
    try:
        assert store.alerting.silences() == []
    finally:
        store.close()
