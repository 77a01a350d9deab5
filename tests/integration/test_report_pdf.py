"""`examnet report --format pdf`: the page printed by Debian's headless Chromium.

Page 1 is turned back into pixels with poppler's pdftoppm and looked at:
a blank or an error page would be (nearly) all white.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from monitor.storage import Store
from tests.fixtures.environment import need_programs
from tests.fixtures.inventories import WITH_DEVICES
from tests.fixtures.monitor import REPO
from tests.fixtures.pdf import first_page_ink
from tests.unit.test_report import ROWS, at


def test_the_report_prints_to_a_pdf_whose_first_page_is_not_blank(tmp_path: Path) -> None:
    need_programs("chromium", "pdftoppm")
    config = tmp_path / "sites.toml"
    config.write_text(WITH_DEVICES, encoding="utf-8")
    db = tmp_path / "examnet.db"
    store = Store(f"sqlite:///{db}", flush_interval=0.01)
    store.upgrade()
    for record in ROWS:
        store.add(record)
    assert store.close() == 0
    pdf = tmp_path / "report.pdf"
    subprocess.run(
        [sys.executable, "-m", "monitor", "report", "--config", str(config), "--db", str(db),
         "--from", at(0).isoformat(), "--to", at(24 * 60).isoformat(), "--format", "pdf",
         "--output", str(pdf)],
        check=True, cwd=REPO, timeout=240,
    )  # fmt: skip
    share = first_page_ink(pdf, tmp_path)
    assert 0.01 < share < 0.6, share  # text, tables and the charts; not an empty sheet
