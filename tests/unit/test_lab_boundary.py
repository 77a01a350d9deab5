"""The namespace lab is not part of the product: not in its wheel, not on its import path.

The lab (`examlab`, lab/pyproject.toml) depends on the product; the product
reaches it only through `examnet lab ...`, `examnet run --lab` and the
generated secrets of a lab file, each importing it at the point of use.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from examlab import cli as lab_cli
from monitor import cli
from tests.unit.test_cli import every_parser

REPO = Path(__file__).resolve().parents[2]
LAB = "examlab"

NO_LAB_FILE = """\
version = 1

[plan]
name = "no lab here"
timezone = "Asia/Ho_Chi_Minh"

[calendar]
during = { start = 2027-06-03T00:00:00, end = 2027-06-06T00:00:00 }

[[carriers]]
id = "vnpt"
name = "VNPT"

[[sites]]
id = "a"
name = "A"
district = "B"

[[sites.links]]
id = "fibre"
carrier = "vnpt"
kind = "fibre"
address = "127.0.0.1"
"""

# Everything `examnet run` does before its event loop: parse the arguments,
# load the file, check the guard, wire the options; then list the lab modules.
RUN_WITHOUT_LOOP = f"""
import asyncio, sys
from monitor import cli

def no_loop(coroutine):
    coroutine.close()
    return 0

asyncio.run = no_loop
code = cli.main(["run", "--config", sys.argv[1], "--db", sys.argv[2]])
loaded = sorted(m for m in sys.modules if m == {LAB!r} or m.startswith({LAB!r} + "."))
print(code, loaded)
"""


def test_examnet_run_on_a_file_without_a_lab_imports_no_lab_module(tmp_path: Path) -> None:
    path = tmp_path / "sites.toml"
    path.write_text(NO_LAB_FILE, encoding="utf-8")
    done = subprocess.run(
        [sys.executable, "-c", RUN_WITHOUT_LOOP, str(path), str(tmp_path / "examnet.db")],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        cwd=tmp_path,
    )

    assert done.returncode == 0, done.stderr
    assert done.stdout.split("\n")[-2] == "0 []", done.stdout + done.stderr


def wheel_names(project: Path, directory: Path, name: str) -> list[str]:
    """The files of the wheel `pip wheel` builds for a project directory."""
    pip = [sys.executable, "-m", "pip", "wheel", "--no-deps", "-q"]
    subprocess.run(
        [*pip, str(project), "-w", str(directory)],
        check=True,
        capture_output=True,
        timeout=300,
    )
    [wheel] = directory.glob(f"{name}-*.whl")
    return zipfile.ZipFile(wheel).namelist()


def test_the_products_wheel_holds_no_lab_module(tmp_path: Path) -> None:
    names = wheel_names(REPO, tmp_path, "examnet")
    tops = {name.split("/")[0] for name in names}

    assert {"monitor", "probes", "alerts"} <= tops
    assert LAB not in tops
    assert [n for n in names if "/lab/" in n or n.startswith(f"{LAB}/")] == []


def test_the_labs_wheel_holds_the_lab_alone(tmp_path: Path) -> None:
    names = wheel_names(REPO / "lab", tmp_path, "examnet_lab")
    tops = {name.split("/")[0] for name in names}

    assert {t for t in tops if not t.endswith(".dist-info")} == {LAB}
    assert f"{LAB}/ups_agent.py" in names  # snmpd runs it by path


def test_examnet_lab_says_how_to_install_the_lab_when_it_is_missing(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setitem(sys.modules, LAB, None)
    monkeypatch.setitem(sys.modules, f"{LAB}.cli", None)

    assert cli.main(["lab", "status"]) == cli.EXIT_FAILURE
    assert cli.main(["run", "--lab", "--config", "sites.toml"]) == cli.EXIT_FAILURE
    err = capsys.readouterr().err
    assert "examnet lab: the lab is not installed: pip install ./lab" in err
    assert "examnet run --lab: the lab is not installed: pip install ./lab" in err


def test_examnet_lab_hands_every_word_after_lab_to_the_labs_parser(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    seen: list[list[str]] = []
    monkeypatch.setattr(lab_cli, "main", lambda argv: seen.append(list(argv)) or 0)

    argv = ["--log-level", "DEBUG", "lab", "impair", "s/l", "rate", "1mbit", "--protect-snmp"]
    assert cli.main(argv) == 0
    assert cli.main(["lab", "--help"]) == 0

    assert seen == [argv[2:], ["lab", "--help"]]


def test_every_option_and_argument_of_examnet_lab_says_what_it_is_for() -> None:
    parser = argparse.ArgumentParser(prog="examnet")
    lab_cli.add_parser(parser.add_subparsers(dest="command", required=True))
    missing = [
        f"{path} {'/'.join(action.option_strings) or action.dest}"
        for path, sub in every_parser(parser)
        for action in sub._actions
        if not isinstance(action, argparse._HelpAction | argparse._SubParsersAction)
        and not action.help
    ]

    assert missing == []
