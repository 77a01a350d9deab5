"""The first outage detection: K rounds down, K rounds up, and the site roll-up."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

from monitor.evaluate import (
    Evaluator,
    RoundOutcome,
    SiteStatus,
    TargetState,
    TargetStatus,
    judge_round,
)
from monitor.figures import RoundFigures
from monitor.inventory import (
    Calendar,
    Carrier,
    Inventory,
    Link,
    Plan,
    ProbeSettings,
    Site,
    Thresholds,
    TimeRange,
)

T0 = datetime(2027, 6, 3, 7, 0, tzinfo=UTC)
K2 = Thresholds(down_after=2, up_after=2)
LOST = RoundOutcome(RoundFigures(sent=5, received=0, loss=1.0), loss_reason="timeout")
ANSWERED = RoundOutcome(RoundFigures(sent=5, received=5, loss=0.0, rtt_avg=0.002))
PARTIAL = RoundOutcome(RoundFigures(sent=5, received=1, loss=0.8, rtt_avg=0.002))
FAILED = RoundOutcome(RoundFigures(sent=0, received=0, loss=None), error="cannot resolve 'x'")


def _run(*outcomes: RoundOutcome, start: TargetStatus = TargetStatus.UNKNOWN) -> list[str]:
    state = TargetState(start)
    seen = []
    for outcome in outcomes:
        state, transition = judge_round(state, outcome, K2)
        seen.append(transition.status if transition else "-")
    return seen


def test_it_marks_a_target_down_after_k_fully_lost_rounds() -> None:
    assert _run(ANSWERED, LOST, LOST, LOST) == ["up", "-", "down", "-"]


def test_it_does_not_call_one_lost_round_an_outage() -> None:
    assert _run(ANSWERED, LOST, ANSWERED, LOST, ANSWERED) == ["up", "-", "-", "-", "-"]


def test_it_brings_a_target_back_up_after_k_answered_rounds() -> None:
    assert _run(LOST, LOST, PARTIAL, LOST, ANSWERED, ANSWERED) == [
        "-", "down", "-", "-", "-", "up"]


def test_it_treats_partial_loss_as_answered_not_down() -> None:
    assert _run(ANSWERED, PARTIAL, PARTIAL, PARTIAL) == ["up", "-", "-", "-"]


def test_it_says_unknown_when_rounds_cannot_run_rather_than_down() -> None:
    assert _run(ANSWERED, FAILED, FAILED, FAILED) == ["up", "-", "unknown", "-"]
    assert _run(FAILED, FAILED) == ["-", "-"]


def test_it_gives_the_reason_and_figures_of_a_down_transition() -> None:
    state = TargetState(TargetStatus.UP, lost_rounds=1)
    _, transition = judge_round(state, LOST, K2)
    assert transition is not None
    assert transition.reason == "every echo lost in 2 consecutive rounds (timeout)"


def _inventory() -> Inventory:
    def link(site: str, lid: str, carrier: str, address: str,
             active: TimeRange | None = None) -> Link:
        return Link(id=lid, site=site, carrier=carrier, kind="fibre", address=address,
                    upstream=None, active=active, thresholds=K2)

    bts_window = TimeRange(T0 + timedelta(days=1), T0 + timedelta(days=2))
    sites = (
        Site(id="a", name="A", district="Cao Lộc", coordinates=None, min_carriers=2, links=(
            link("a", "v", "viettel", "10.0.0.1"),
            link("a", "n", "vnpt", "10.0.0.2"),
            link("a", "m", "mobifone", "10.0.0.3", active=bts_window),
        )),
    )
    during = TimeRange(T0, T0 + timedelta(days=3))
    return Inventory(
        source=Path("test.toml"),
        plan=Plan("test", ZoneInfo("Asia/Ho_Chi_Minh")),
        calendar=Calendar(before=None, during=during, after=None, sessions=()),
        carriers=tuple(Carrier(c, c, "") for c in ("viettel", "vnpt", "mobifone")),
        endpoints=(), sites=sites, thresholds=K2, probe=ProbeSettings(),
    )


def _feed(evaluator: Evaluator, key: str, outcome: RoundOutcome, rounds: int,
          at: datetime = T0) -> list[tuple[str, str, str]]:
    target = next(t for t in evaluator.inventory.targets() if t.key == key)
    changes = []
    for _ in range(rounds):
        changes += evaluator.observe(target, outcome, at)
    return [(c.subject_kind, c.subject, c.state) for c in changes]


def test_it_marks_site_lost_redundancy_then_isolated_then_ok() -> None:
    ev = Evaluator(_inventory())
    assert _feed(ev, "link:a/v", ANSWERED, 1) == [("target", "link:a/v", "up")]
    assert _feed(ev, "link:a/n", ANSWERED, 1) == [
        ("target", "link:a/n", "up"), ("site", "a", "ok")]
    assert _feed(ev, "link:a/n", LOST, 2) == [
        ("target", "link:a/n", "down"), ("site", "a", "lost_redundancy")]
    assert ev.sites["a"].carriers_up == ("viettel",)
    assert _feed(ev, "link:a/v", LOST, 2) == [
        ("target", "link:a/v", "down"), ("site", "a", "isolated")]
    assert ev.sites["a"].reason == "no link up: v, n down"
    assert _feed(ev, "link:a/v", ANSWERED, 2) == [
        ("target", "link:a/v", "up"), ("site", "a", "lost_redundancy")]


def test_it_counts_a_mobile_bts_only_inside_its_window() -> None:
    ev = Evaluator(_inventory())
    _feed(ev, "link:a/v", ANSWERED, 1)
    _feed(ev, "link:a/n", LOST, 2)
    on_exam_day = T0 + timedelta(days=1, hours=1)
    assert _feed(ev, "link:a/m", ANSWERED, 1, at=on_exam_day) == [
        ("target", "link:a/m", "up"), ("site", "a", "ok")]
    assert ev.reassess_site("a", T0 + timedelta(days=2, hours=1))[0].state == (
        SiteStatus.LOST_REDUNDANCY)


def test_it_resumes_from_stored_states_without_repeating_a_transition() -> None:
    restored = Evaluator(_inventory(), {
        ("target", "link:a/v"): "down", ("target", "link:a/n"): "down",
        ("site", "a"): "isolated"})
    assert _feed(restored, "link:a/v", LOST, 3) == []
    assert restored.sites["a"].status is SiteStatus.ISOLATED
