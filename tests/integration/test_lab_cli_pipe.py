"""`examnet lab status | head`: the lab's command stops quietly when its reader has gone."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.fixtures.environment import need_programs, need_root

pytestmark = pytest.mark.lab

REPO = Path(__file__).resolve().parents[2]
LAB_CONFIG = REPO / "tests" / "data" / "lab-sites.toml"


def test_lab_status_stops_quietly_when_the_reader_of_its_output_has_gone(
    tmp_path: Path,
) -> None:
    need_root()
    need_programs("ip")
    # a prefix no other test brings up: status only reads what is there (nothing)
    path = tmp_path / "lab-sites.toml"
    path.write_text(
        LAB_CONFIG.read_text(encoding="utf-8").replace('prefix = "ext"', 'prefix = "exp"'),
        encoding="utf-8",
    )
    reader, writer = os.pipe()
    os.close(reader)
    try:
        result = subprocess.run(
            [sys.executable, "-m", "monitor", "lab", "status", "--config", str(path)],
            stdout=writer,
            stderr=subprocess.PIPE,
            text=True,
            cwd=REPO,
            check=False,
            timeout=60,
        )
    finally:
        os.close(writer)

    assert result.stderr == ""
    assert result.returncode == 141  # 128 + SIGPIPE, as a shell reports `yes | head`
