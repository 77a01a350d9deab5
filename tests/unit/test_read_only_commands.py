"""The commands that only read (status, report, incidents, token list): the
Department's desk runs them without the SNMP keys, and none of them answers
from a database the monitor never wrote."""

from __future__ import annotations

from pathlib import Path

import pytest

from monitor.cli import main
from monitor.config import ConfigError, load_inventory
from monitor.model.secrets import WithheldSecret
from monitor.storage import Store
from tests.fixtures.inventories import WITH_DEVICES

VARIABLE = "EXAMNET_TEST_COMMUNITY"
SECRETS_IN_ENV = WITH_DEVICES.replace('community = "public-test"', f'community = "${{{VARIABLE}}}"')
WINDOW = ["--from", "2026-06-01T00:00+07:00", "--to", "2026-06-02T00:00+07:00"]


@pytest.fixture
def plan(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.delenv(VARIABLE, raising=False)
    monkeypatch.delenv(f"{VARIABLE}_FILE", raising=False)
    path = tmp_path / "sites.toml"
    path.write_text(SECRETS_IN_ENV, encoding="utf-8")
    return path


@pytest.fixture
def database(tmp_path: Path) -> str:
    url = f"sqlite:///{tmp_path / 'examnet.db'}"
    store = Store(url)
    store.upgrade()
    store.close()
    return url


def test_a_credential_whose_variable_is_unset_is_withheld_only_when_not_needed(
    plan: Path,
) -> None:
    with pytest.raises(ConfigError, match=VARIABLE):
        load_inventory(plan, {})
    inventory = load_inventory(plan, {}, need_secrets=False)
    communities = [d.credentials.community for s in inventory.sites for d in s.devices]  # type: ignore[union-attr]
    assert communities
    assert all(isinstance(c, WithheldSecret) for c in communities)
    with pytest.raises(RuntimeError, match=VARIABLE):
        communities[0].reveal()  # probing with it would be a bug, and loud
    set_ = load_inventory(plan, {VARIABLE: "s3cret-value"}, need_secrets=False)
    assert set_.sites[0].devices[0].credentials.community.reveal() == "s3cret-value"  # type: ignore[union-attr]


def test_the_shipped_file_loads_without_its_v2c_and_v3_secrets_for_reading() -> None:
    shipped = Path(__file__).resolve().parents[2] / "sites.toml"
    with pytest.raises(ConfigError, match="EXAMNET_SNMP_AUTH_KEY"):
        load_inventory(shipped, {})
    inventory = load_inventory(shipped, {}, need_secrets=False)
    assert len(inventory.sites) > 5


def test_withholding_credentials_still_names_every_other_problem(tmp_path: Path) -> None:
    broken = tmp_path / "broken.toml"
    broken.write_text(SECRETS_IN_ENV.replace('"127.0.2.10"', '"127.0.2.300"'), encoding="utf-8")
    with pytest.raises(ConfigError) as caught:
        load_inventory(broken, {}, need_secrets=False)
    assert [p.item for p in caught.value.problems] == ['site "thpt-a" device "ups"']
    assert VARIABLE not in str(caught.value)


def test_status_report_and_incidents_run_without_the_snmp_secrets(
    plan: Path, database: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["report", "--config", str(plan), "--db", database, *WINDOW, "--format", "md"]) == 0
    assert main(["status", "--config", str(plan), "--db", database]) == 0
    district = ["--district", "Cao Lộc", "--config", str(plan)]
    assert main(["incidents", *district, "--db", database]) == 0
    captured = capsys.readouterr()
    assert "thpt-a" in captured.out
    assert "0 of 0 incidents" in captured.out
    assert VARIABLE not in captured.err
    assert main(["check", str(plan)]) == 2  # the monitor's own commands still need them
    assert VARIABLE in capsys.readouterr().err


@pytest.mark.parametrize(
    "command",
    [
        ["incidents"],
        ["token", "list"],
        ["token", "revoke", "1"],
        ["report", *WINDOW],
        ["status"],
    ],
)
def test_a_reading_command_refuses_a_database_that_is_not_there_and_makes_none(
    command: list[str], plan: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    mistyped = tmp_path / "exmanet.db"
    config = [] if command[0] in ("incidents", "token") else ["--config", str(plan)]
    assert main([*command, *config, "--db", str(mistyped)]) == 1
    assert f"{mistyped}: no such database" in capsys.readouterr().err
    assert not mistyped.exists()


def test_a_new_token_may_make_the_database_before_the_monitor_first_runs(tmp_path: Path) -> None:
    fresh = tmp_path / "examnet.db"
    assert main(["token", "create", "--role", "noc", "--name", "desk", "--db", str(fresh)]) == 0
    assert main(["token", "list", "--db", str(fresh)]) == 0


def test_incidents_of_a_district_the_file_does_not_name_is_an_error_not_an_empty_list(
    plan: Path, database: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    common = ["incidents", "--db", database, "--config"]
    assert main([*common, str(plan), "--district", "Cao Loc"]) == 2
    assert "names no district 'Cao Loc' (it has: Cao Lộc)" in capsys.readouterr().err
    broken = tmp_path / "broken.toml"
    broken.write_text("[plan\n", encoding="utf-8")
    assert main([*common, str(broken), "--district", "Cao Lộc"]) == 2
    err = capsys.readouterr().err
    assert "broken.toml" in err
    assert "Traceback" not in err


def test_a_carrier_token_is_made_only_for_a_carrier_the_file_declares(
    plan: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    db = str(tmp_path / "examnet.db")
    create = ["token", "create", "--role", "carrier", "--name", "desk", "--db", db]
    assert main([*create, "--carrier", "vnp", "--config", str(plan)]) == 2
    assert "declares no carrier 'vnp' (it has: viettel, vnpt, mobifone)" in capsys.readouterr().err
    assert main([*create, "--carrier", "vnpt", "--config", str(tmp_path / "none.toml")]) == 2
    assert "cannot check --carrier against" in capsys.readouterr().err
    assert main([*create, "--carrier", "vnpt", "--config", str(plan)]) == 0
    assert capsys.readouterr().out.startswith("exn_")


def test_a_report_that_cannot_be_written_says_so_in_one_line(
    plan: Path, database: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    common = ["report", "--config", str(plan), "--db", database, *WINDOW]
    missing = tmp_path / "no-such-directory" / "report.html"
    assert main([*common, "--output", str(missing)]) == 1
    assert f"cannot write {missing}: no directory {missing.parent}" in capsys.readouterr().err
    assert main([*common, "--output", "/dev/full"]) == 1
    assert "cannot write /dev/full: No space left on device" in capsys.readouterr().err
