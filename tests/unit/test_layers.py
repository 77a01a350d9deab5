"""The layering check (scripts/check_layers.py): the tree keeps it, and it sees what hides."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

ROOT = Path(__file__).resolve().parents[2]


def _checker() -> ModuleType:
    spec = importlib.util.spec_from_file_location("check_layers", ROOT / "scripts/check_layers.py")
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["check_layers"] = module  # dataclasses look their module up
    spec.loader.exec_module(module)
    return module


check = _checker()


def tree(base: Path, files: dict[str, str]) -> Path:
    for name in ("monitor/__init__.py", "probes/__init__.py", "alerts/__init__.py"):
        (base / name).parent.mkdir(parents=True, exist_ok=True)
        (base / name).touch()
    for name, text in files.items():
        (base / name).parent.mkdir(parents=True, exist_ok=True)
        (base / name).write_text(text)
    return base


def test_it_finds_nothing_in_examnet_beyond_the_written_allowances() -> None:
    assert check.problems(ROOT) == []


def test_it_keeps_the_model_free_of_examnet() -> None:
    modules = check.module_names(ROOT)
    model = [m for m in modules if m.startswith("monitor.model")]
    assert model
    for name in model:
        for found in check.imports_of(name, modules[name], modules):
            assert found.imported.startswith("monitor.model"), found


def test_it_refuses_a_higher_layer_imported_inside_a_function(tmp_path: Path) -> None:
    base = tree(
        tmp_path,
        {
            "monitor/model/__init__.py": "",
            "monitor/model/keys.py": "def f():\n    from monitor.app import run\n",
            "monitor/app.py": "def run(): ...\n",
        },
    )
    assert check.problems(base, {}, {}) == [
        "monitor/model/keys.py:2: monitor.model.keys (model) imports monitor.app (entry)"
    ]


def test_it_refuses_one_side_of_a_layer_importing_the_other(tmp_path: Path) -> None:
    base = tree(
        tmp_path,
        {
            "alerts/outbox.py": "from monitor.storage.rows import Row\n",
            "monitor/storage/__init__.py": "",
            "monitor/storage/rows.py": "Row = int\n",
        },
    )
    assert check.problems(base, {}, {}) == [
        "alerts/outbox.py:1: alerts.outbox (alerts) imports monitor.storage.rows (storage)"
    ]


def test_it_reports_a_cycle_hidden_under_type_checking(tmp_path: Path) -> None:
    base = tree(
        tmp_path,
        {
            "monitor/metrics.py": "from monitor.device_metrics import f\n",
            "monitor/device_metrics.py": (
                "from typing import TYPE_CHECKING\n"
                "if TYPE_CHECKING:\n"
                "    from monitor.metrics import View\n"
            ),
        },
    )
    assert check.problems(base, {}, {}) == [
        "import cycle: monitor.device_metrics <-> monitor.metrics"
    ]


def test_it_reports_an_allowance_that_no_longer_matches(tmp_path: Path) -> None:
    base = tree(tmp_path, {"monitor/status.py": "import json\n"})
    allowed = {("monitor.status", "monitor.app"): "gone"}
    cycles = {("monitor.a", "monitor.b"): "gone"}
    assert check.problems(base, allowed, cycles) == [
        "ALLOWED has a stale entry: monitor.status -> monitor.app",
        "ALLOWED_CYCLES has a stale entry: ('monitor.a', 'monitor.b')",
    ]
