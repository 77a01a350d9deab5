"""The committed dashboards are what the generator makes, and are sound.

deploy/grafana/generate.py is the source; the JSON is committed so Grafana
can provision it without Python. These tests keep the two the same, byte
for byte, and hold every panel to the metrics contract (docs/metrics.md)
and to examnet's own thresholds.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from monitor.model.inventory import Thresholds
from tests.unit.test_metrics_contract import documented

REPO = Path(__file__).resolve().parents[2]
GENERATOR = REPO / "deploy" / "grafana" / "generate.py"
COMMITTED = REPO / "deploy" / "grafana" / "dashboards"
NAMES = ("carrier.json", "exam-day.json", "examnet.json", "site.json")
RULES = sorted((REPO / "deploy" / "prometheus" / "rules").glob("*.yml"))
_METRIC = re.compile(r"\b(examnet[_:][a-z0-9_:]+|up)\b(?!\s*\()")
_SUFFIX = re.compile(r"_(bucket|sum|count)$")


def load(name: str) -> dict[str, Any]:
    board: dict[str, Any] = json.loads((COMMITTED / name).read_text(encoding="utf-8"))
    return board


def panels(board: dict[str, Any]) -> list[dict[str, Any]]:
    """Every panel, those inside rows included."""
    found: list[dict[str, Any]] = []
    for panel in board["panels"]:
        found.append(panel)
        found.extend(panel.get("panels", []))
    return found


def expressions(board: dict[str, Any]) -> list[str]:
    exprs = [t["expr"] for p in panels(board) for t in p.get("targets", [])]
    exprs += [a["expr"] for a in board["annotations"]["list"] if "expr" in a]
    exprs += [v["query"]["query"] for v in board["templating"]["list"] if v["type"] == "query"]
    return exprs


def recorded() -> set[str]:
    return {r["record"] for path in RULES for g in yaml.safe_load(path.read_text())["groups"]
            for r in g["rules"] if "record" in r}


def test_the_generator_makes_the_committed_files_byte_for_byte(tmp_path: Path) -> None:
    subprocess.run([sys.executable, str(GENERATOR), "--out", str(tmp_path)], check=True,
                   cwd=REPO, timeout=120)
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(NAMES)
    assert sorted(p.name for p in COMMITTED.iterdir()) == sorted(NAMES)
    for name in NAMES:
        assert (tmp_path / name).read_bytes() == (COMMITTED / name).read_bytes(), (
            f"{name} is stale: run `make dashboards` and commit the result")


@pytest.mark.parametrize("name", NAMES)
def test_every_dashboard_has_unique_panel_ids_and_its_datasource_variable(name: str) -> None:
    board = load(name)
    ids = [p["id"] for p in panels(board)]
    assert len(ids) == len(set(ids)), f"duplicate panel ids in {name}"
    [variable] = [v for v in board["templating"]["list"] if v["name"] == "datasource"]
    assert (variable["type"], variable["query"]) == ("datasource", "prometheus")
    used = [p["datasource"] for p in panels(board)]
    used += [t["datasource"] for p in panels(board) for t in p.get("targets", [])]
    used += [a["datasource"] for a in board["annotations"]["list"]]
    assert all(ref == {"type": "prometheus", "uid": "${datasource}"} for ref in used)


@pytest.mark.parametrize(("name", "variables"), [
    ("exam-day.json", {"datasource", "district", "site", "carrier"}),
    ("site.json", {"datasource", "district", "site", "link"}),
    ("carrier.json", {"datasource", "carrier", "district"}),
    ("examnet.json", {"datasource", "instance"}),
])
def test_it_offers_the_variables_that_fit(name: str, variables: set[str]) -> None:
    assert {v["name"] for v in load(name)["templating"]["list"]} == variables


@pytest.mark.parametrize("name", NAMES)
def test_every_query_names_only_documented_metrics_or_recording_rules(name: str) -> None:
    known = documented() | recorded() | {"up"}
    named = {_SUFFIX.sub("", m) for e in expressions(load(name)) for m in _METRIC.findall(e)}
    assert named, name
    assert named - known == set()


@pytest.mark.parametrize("name", NAMES)
def test_every_panel_asks_something(name: str) -> None:
    for panel in panels(load(name)):
        assert panel.get("targets"), panel["title"]
        assert all(t["expr"].strip() for t in panel["targets"]), panel["title"]


def _steps(board: str, title_start: str) -> list[float | None]:
    [panel] = [p for p in panels(load(board)) if p["title"].startswith(title_start)]
    return [s["value"] for s in panel["fieldConfig"]["defaults"]["thresholds"]["steps"]]


def test_it_colours_by_the_thresholds_of_sites_toml() -> None:
    t = Thresholds()  # the defaults of [thresholds]
    assert _steps("site.json", "Loss") == [None, t.loss_warn, t.loss_crit]
    assert _steps("site.json", "Jitter") == [None, t.jitter_warn_ms / 1000, t.jitter_crit_ms / 1000]
    assert _steps("site.json", "RTT") == [None, t.rtt_warn_ms / 1000, t.rtt_crit_ms / 1000]
    assert _steps("site.json", "Interface utilisation") == [
        None, t.utilisation_warn, t.utilisation_crit]
    assert _steps("site.json", "UPS minutes") == [None, t.power_low_minutes]
