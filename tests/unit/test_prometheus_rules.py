"""The shipped scrape config and rules pass promtool, and their unit tests cover every rule.

promtool comes with Debian's `prometheus` package; under CI a missing
promtool fails (tests/fixtures/environment.py), it never skips.
"""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.fixtures.environment import need_programs

REPO = Path(__file__).resolve().parents[2]
CONFIG = REPO / "deploy" / "prometheus.yml"
RULES = sorted((REPO / "deploy" / "prometheus" / "rules").glob("*.yml"))
RULE_TESTS = sorted((REPO / "deploy" / "prometheus" / "tests").glob("*.yml"))


def promtool(*args: str) -> None:
    need_programs("promtool")
    done = subprocess.run(["promtool", *args], capture_output=True, text=True, check=False,
                          timeout=120, cwd=REPO)
    assert done.returncode == 0, f"promtool {' '.join(args)}:\n{done.stdout}{done.stderr}"


def rules() -> list[dict[str, Any]]:
    return [rule for path in RULES for group in yaml.safe_load(path.read_text())["groups"]
            for rule in group["rules"]]


def rule_tests() -> list[dict[str, Any]]:
    return [test for path in RULE_TESTS for test in yaml.safe_load(path.read_text())["tests"]]


def test_the_shipped_scrape_config_is_valid_and_loads_the_rules() -> None:
    promtool("check", "config", str(CONFIG))
    loaded = yaml.safe_load(CONFIG.read_text())["rule_files"]
    assert sorted(CONFIG.parent / name for name in loaded) == RULES


def test_the_rules_are_valid() -> None:
    assert RULES
    promtool("check", "rules", *map(str, RULES))


def test_the_rules_pass_their_unit_tests() -> None:
    assert RULE_TESTS
    promtool("test", "rules", *map(str, RULE_TESTS))


@pytest.mark.parametrize("alert", sorted({r["alert"] for r in rules() if "alert" in r}))
def test_every_alert_is_shown_firing_and_not_firing(alert: str) -> None:
    cases = [case for test in rule_tests() for case in test.get("alert_rule_test", [])
             if case["alertname"] == alert]
    assert any(case["exp_alerts"] for case in cases), f"{alert} is never shown firing"
    assert any(not case["exp_alerts"] for case in cases), f"{alert} is never shown quiet"


@pytest.mark.parametrize("record", sorted({r["record"] for r in rules() if "record" in r}))
def test_every_recording_rule_has_its_value_checked(record: str) -> None:
    checked = [case for test in rule_tests() for case in test.get("promql_expr_test", [])
               if record in case["expr"] and case["exp_samples"]]
    assert checked, f"no promql_expr_test checks {record}"
