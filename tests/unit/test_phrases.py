"""Vietnamese notifications carry Vietnamese reasons (issue 9.8).

The reasons come from the real builders (site judge, ping quality, UPS
judge, readiness, the SNMP failure words); each must come out of the
phrasebook with no English phrase left, while English receivers keep them.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from pathlib import Path

import pytest

from alerts.phrases import localized
from alerts.templates import Facts, summary
from monitor.evaluation.ping import PingState, Quality, quality_words
from monitor.evaluation.readiness import words
from monitor.evaluation.sites import judge_site
from monitor.evaluation.snmp import judge_power
from monitor.model.inventory import Thresholds
from monitor.model.records import ReadinessRecord
from monitor.model.vocabulary import ConditionKind, TargetStatus
from probes import snmp_failures
from probes.snmpdata import UpsReading
from tests.fixtures.inventories import inventory_from, province

NOW = datetime(2027, 6, 3, 0, 40, tzinfo=UTC)
# words that only an untranslated English phrase would leave in a Vietnamese line
ENGLISH = re.compile(
    r"\b(of|up|down|required|carriers?|rounds?|last|warn|every|lost|answers?|polls?|failed|"
    r"which|battery|minutes?|left|interface|capacity|sites?|ready|none|usual|its|the)\b"
)


def site_reasons(tmp_path: Path) -> list[str]:
    inventory = inventory_from(province(3), tmp_path)
    reasons = []
    for site in inventory.sites:
        keys = [link.target_key for link in site.links]
        for statuses in (
            dict.fromkeys(keys, TargetStatus.DOWN),  # isolated
            {keys[0]: TargetStatus.DOWN, **dict.fromkeys(keys[1:], TargetStatus.UP)},
            {keys[0]: TargetStatus.UNKNOWN, **dict.fromkeys(keys[1:], TargetStatus.UP)},
            {keys[0]: TargetStatus.DEGRADED, **dict.fromkeys(keys[1:], TargetStatus.UP)},
        ):
            for settled in (False, True):
                reasons.append(judge_site(site, statuses, NOW, settled=settled).reason)
    return reasons


def ping_reasons() -> list[str]:
    t = Thresholds()
    bad = Quality(loss=0.4, rtt=0.5, jitter=0.2)
    state = PingState(window=(bad, bad, bad, Quality(0.0, 0.01, 0.001)), baseline=(0.01,) * 20)
    kinds = (
        ConditionKind.LOSS,
        ConditionKind.LATENCY,
        ConditionKind.JITTER,
        ConditionKind.RTT_ANOMALY,
    )
    return [quality_words(kind, state, t)[0] for kind in kinds]


def power_reasons() -> list[str]:
    t = Thresholds()
    readings = [
        UpsReading(3, 2, 42, 120, 80, 0.0),  # on battery
        UpsReading(3, 3, 5, 900, 10, 0.0),  # battery low
        UpsReading(3, 2, None, 120, 80, 0.0),
    ]
    return [judge_power(r, t).reason for r in readings]


def readiness_reasons() -> list[str]:
    record = ReadinessRecord(
        "Ngữ văn",
        NOW,
        NOW,
        1800,
        False,
        12,
        11,
        ({"site": "thpt-a", "state": "lost_redundancy", "power": "on_battery", "reason": "x"},),
    )
    ready = ReadinessRecord("Ngữ văn", NOW, NOW, 900, True, 12, 12)
    return [words(record), words(ready)]


def device_reasons() -> list[str]:
    failures = [
        snmp_failures.NO_ANSWER_V2C,
        snmp_failures.NO_ANSWER_V3,
        snmp_failures.NO_ANSWER,
        snmp_failures.WRONG_AUTH_KEY,
        snmp_failures.UNKNOWN_USER,
        snmp_failures.LEVEL_NOT_ALLOWED,
        snmp_failures.UNUSABLE_ANSWERS,
        snmp_failures.ENGINE_ID_CHANGED,
        snmp_failures.NOT_IN_TIME_WINDOW,
    ]
    reasons = [f"3 polls failed: {failure}" for failure in failures]
    reasons.append("3 polls failed: no answer: it is polled over link:thpt-a/vt, which is down")
    return reasons


def test_every_reason_the_evaluator_builds_reads_in_vietnamese(tmp_path: Path) -> None:
    reasons = (
        site_reasons(tmp_path)
        + ping_reasons()
        + power_reasons()
        + readiness_reasons()
        + device_reasons()
    )
    assert len(reasons) > 30
    for reason in reasons:
        vi = localized(reason, "vi")
        # what stays is names (carriers, links, sessions) and figures
        names_removed = re.sub(r"\S*(thpt|link:|vt|vnpt|mobi|s\d)\S*", "", vi)
        assert not ENGLISH.search(names_removed), f"{reason!r} -> {vi!r}"


@pytest.mark.parametrize(
    ("reason", "vietnamese"),
    [
        (
            "1 of 2 required independent carriers up: vnpt; down: vt",
            "1/2 nhà mạng độc lập cần thiết còn hoạt động: vnpt; mất kết nối: vt",
        ),
        ("on battery: 42 minutes left", "đang chạy pin: còn 42 phút"),
        (
            "packet loss up to 40% in 3 of the last 5 rounds (warn 5%)",
            "mất gói tới 40% trong 3/5 lượt đo gần nhất (ngưỡng 5%)",
        ),
    ],
)
def test_it_translates_the_figures_into_their_place(reason: str, vietnamese: str) -> None:
    assert localized(reason, "vi") == vietnamese
    assert localized(reason, "en") == reason


def test_a_vietnamese_summary_carries_the_vietnamese_reason_and_english_the_english() -> None:
    facts = Facts(
        kind="on_battery",
        subject="thpt-a",
        reason="on battery: 42 minutes left",
        site="THPT A",
        district="Cao Lộc",
    )
    assert summary(facts, "vi").endswith("đang chạy UPS — đang chạy pin: còn 42 phút")
    assert summary(facts, "en").endswith("— on battery: 42 minutes left")


def test_an_unknown_phrase_stays_as_it_is() -> None:
    assert localized("a reason nobody wrote a translation for", "vi") == (
        "a reason nobody wrote a translation for"
    )
