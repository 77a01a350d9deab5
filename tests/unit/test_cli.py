"""The `examnet` command as a shell user meets it: help, version, pipes, times, escapes."""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
from collections.abc import Iterator
from importlib import metadata
from pathlib import Path

import pytest

from monitor.cli import build_parser, main

REPO = Path(__file__).resolve().parents[2]
SHIPPED_SECRETS = {
    "EXAMNET_SNMP_COMMUNITY": "shipped-community-5d1e",
    "EXAMNET_SNMP_AUTH_KEY": "shipped-auth-key-80c4",
    "EXAMNET_SNMP_PRIV_KEY": "shipped-priv-key-2b97",
}


def every_parser(
    parser: argparse.ArgumentParser, path: str = "examnet"
) -> Iterator[tuple[str, argparse.ArgumentParser]]:
    yield path, parser
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                yield from every_parser(sub, f"{path} {name}")


def test_every_option_and_argument_of_every_command_says_what_it_is_for() -> None:
    missing = [
        f"{path} {'/'.join(action.option_strings) or action.dest}"
        for path, parser in every_parser(build_parser())
        for action in parser._actions
        if not isinstance(action, argparse._HelpAction | argparse._SubParsersAction)
        and not action.help
    ]
    commands = [
        f"{path} {choice.dest}"
        for path, parser in every_parser(build_parser())
        for action in parser._actions
        if isinstance(action, argparse._SubParsersAction)
        for choice in action._choices_actions
        if not choice.help
    ]

    assert missing == []
    assert commands == []


def test_it_prints_its_version(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        main(["--version"])

    assert exited.value.code == 0
    assert capsys.readouterr().out == f"examnet {metadata.version('examnet')}\n"


def run_into_closed_pipe(*args: str) -> subprocess.CompletedProcess[str]:
    """`examnet ARGS | head -0`: the reader is gone before examnet writes a byte."""
    reader, writer = os.pipe()
    os.close(reader)
    try:
        return subprocess.run(
            [sys.executable, *args],
            stdout=writer,
            stderr=subprocess.PIPE,
            text=True,
            env={**os.environ, **SHIPPED_SECRETS},
            cwd=REPO,
            check=False,
            timeout=60,
        )
    finally:
        os.close(writer)


def test_it_stops_quietly_when_the_reader_of_its_output_has_gone(tmp_path: Path) -> None:
    # `examnet lab status | head`: tests/integration/test_lab_cli_pipe.py (root)
    checked = run_into_closed_pipe("-m", "monitor", "check", "sites.toml")
    listed = run_into_closed_pipe(
        "-m", "monitor", "silence", "list", "--db", str(tmp_path / "examnet.db")
    )

    for result in (checked, listed):
        assert result.stderr == ""
        assert result.returncode == 141  # 128 + SIGPIPE, as a shell reports `yes | head`


def test_it_says_plainly_when_its_output_cannot_be_written() -> None:
    """`examnet incidents --format csv > /mnt/full-disk/x.csv`: one line, no traceback."""
    with open("/dev/full", "w") as full:  # the device, as a shell opens it
        done = subprocess.run(
            [sys.executable, "-m", "monitor", "check", "sites.toml"], stdout=full,
            stderr=subprocess.PIPE, text=True, env={**os.environ, **SHIPPED_SECRETS}, cwd=REPO,
            check=False, timeout=60,
        )  # fmt: skip
    assert done.returncode == 1
    assert done.stderr == "examnet: cannot write its output: No space left on device\n"


# --------------------------------------------------------------------------
# silences: times in the plan's zone, comments escaped


def berlin_plan(directory: Path) -> Path:
    path = directory / "sites.toml"
    path.write_text('version = 1\n[plan]\nname = "x"\ntimezone = "Europe/Berlin"\n')
    return path


def run(capsys: pytest.CaptureFixture[str], *args: str) -> str:
    assert main(list(args)) == 0
    return capsys.readouterr().out


def test_it_lists_silences_in_the_plans_zone_with_the_offset(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    db = str(tmp_path / "examnet.db")
    added = run(
        capsys, "silence", "add", 'carrier="viettel"', "--start", "2099-06-03T07:30:00+07:00",
        "--end", "2099-06-03T09:30:00+07:00", "--by", "An", "--comment", "splice", "--db", db,
    )  # fmt: skip
    berlin = berlin_plan(tmp_path)

    shipped = run(capsys, "silence", "list", "--db", db)  # ./sites.toml: Asia/Ho_Chi_Minh
    listed = run(capsys, "silence", "list", "--db", db, "--config", str(berlin))

    assert "until 2099-06-03 09:30 +07:00" in added
    assert "pending  2099-06-03 07:30 +07:00 → 2099-06-03 09:30 +07:00" in shipped
    assert "pending  2099-06-03 02:30 +02:00 → 2099-06-03 04:30 +02:00" in listed
    assert "+00:00" not in shipped + listed


def test_it_escapes_control_characters_in_silence_comments(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    db = str(tmp_path / "examnet.db")
    run(
        capsys, "silence", "add", 'carrier="viettel"', "--duration", "1h", "--by", "An\x1b[31m",
        "--comment", "clear\x1b[2J\x1b]0;owned\x07\nthen", "--db", db,
    )  # fmt: skip

    listed = run(capsys, "silence", "list", "--db", db)

    assert "\x1b" not in listed
    assert "\x07" not in listed
    assert listed.count("\n") == 1  # one silence, one line
    assert "(by An\\x1b[31m: clear\\x1b[2J\\x1b]0;owned\\x07\\nthen)" in listed
