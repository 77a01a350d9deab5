"""The alert engine on a fake clock: groups, repeats, resolves, silences, acks, escalation."""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta

from alerts.engine import AlertEngine
from alerts.matchers import Matcher, parse_matcher
from alerts.model import Alert, Notification, Reason

T0 = datetime(2027, 6, 3, 0, 30, tzinfo=UTC)
ENDPOINT_GROUP = "target|endpoint:vt-gw|endpoint_down"


@dataclass(frozen=True)
class Route:
    matchers: tuple[Matcher, ...] = ()
    receivers: tuple[str, ...] = ("oncall",)
    group_by: tuple[str, ...] = ("group",)
    group_wait: float = 30
    group_interval: float = 300
    repeat_interval: float = 3600
    continue_: bool = False
    escalate_to: str | None = None
    escalate_after: float = 600


@dataclass(frozen=True)
class Silence:
    matchers: tuple[Matcher, ...]
    start: datetime
    end: datetime


def alert(name: str, *, group: str | None = None, severity: str = "critical",
          carrier: str = "viettel", started: datetime = T0, ended: datetime | None = None,
          ) -> Alert:
    labels = {"kind": "lost_redundancy", "subject": name, "site": name, "carrier": carrier,
              "severity": severity, "group": group or f"site|{name}|lost_redundancy",
              "session": "Ngữ văn"}
    return Alert(fingerprint=f"fp-{name}", labels=labels, summary={"vi": name, "en": name},
                 starts_at=started, ends_at=ended)


def engine(*routes: Route, in_session: bool = True) -> AlertEngine:
    return AlertEngine(routes or (Route(),), language_of=lambda _r: "vi",
                       in_session=lambda _now: in_session)


def run(e: AlertEngine, start: datetime, seconds: int) -> list[Notification]:
    out = []
    for s in range(seconds + 1):
        out += e.flush(start + timedelta(seconds=s))
    return out


def names(n: Notification) -> list[str]:
    return sorted(a.labels["subject"] for a in n.alerts)


def test_an_endpoint_and_the_ten_sites_it_cuts_are_one_notification_per_receiver() -> None:
    e = engine(Route(receivers=("oncall", "viettel-noc")))
    e.update(alert("endpoint:vt-gw", group=ENDPOINT_GROUP), T0)
    for i in range(10):  # the sites follow within seconds
        e.update(alert(f"s{i}", group=ENDPOINT_GROUP), T0 + timedelta(seconds=i))
    sent = run(e, T0, 60)
    assert [(n.receiver, n.reason) for n in sent] == [("oncall", Reason.NEW),
                                                      ("viettel-noc", Reason.NEW)]
    assert names(sent[0]) == sorted(["endpoint:vt-gw", *(f"s{i}" for i in range(10))])
    # unchanged: repeated after repeat_interval, not before
    assert run(e, T0 + timedelta(seconds=61), 3500) == []
    repeats = run(e, T0 + timedelta(seconds=3562), 100)
    assert [(n.receiver, n.reason) for n in repeats] == [("oncall", Reason.REPEAT),
                                                         ("viettel-noc", Reason.REPEAT)]
    # all resolve: one resolved notification each, then the group is gone
    end = T0 + timedelta(seconds=4000)
    for a in ["endpoint:vt-gw", *(f"s{i}" for i in range(10))]:
        e.update(alert(a, group=ENDPOINT_GROUP, ended=end), end)
    resolved = run(e, end, 400)
    assert [(n.receiver, n.reason) for n in resolved] == [("oncall", Reason.RESOLVED),
                                                          ("viettel-noc", Reason.RESOLVED)]
    assert len(resolved[0].resolved) == 11
    assert e.groups == {}


def test_changes_wait_for_the_group_interval_after_the_last_notification() -> None:
    e = engine()
    e.update(alert("a", group="g"), T0)
    [first] = run(e, T0, 30)
    e.update(alert("b", group="g"), T0 + timedelta(seconds=40))
    assert run(e, T0 + timedelta(seconds=31), 298) == []  # before 30 + 300 s
    [update] = run(e, T0 + timedelta(seconds=330), 1)
    assert update.reason == Reason.UPDATE
    assert names(update) == ["a", "b"]
    assert first.id != update.id


def test_a_silenced_alert_is_not_notified_until_the_silence_expires() -> None:
    e = engine()
    e.set_silences([Silence((parse_matcher("site=a"),), T0, T0 + timedelta(minutes=10))])
    e.update(alert("a"), T0)
    assert run(e, T0, 599) == []
    [after] = run(e, T0 + timedelta(minutes=10), 5)
    assert (after.reason, names(after)) == (Reason.NEW, ["a"])


def test_a_resolution_under_a_silence_still_reaches_those_who_saw_it_fire() -> None:
    e = engine()
    e.update(alert("a"), T0)
    [fired] = run(e, T0, 30)
    assert fired.reason == Reason.NEW
    e.set_silences([Silence((parse_matcher("site=a"),), T0 + timedelta(seconds=40),
                            T0 + timedelta(hours=2))])
    assert run(e, T0 + timedelta(seconds=31), 600) == []  # muted: no update about it
    end = T0 + timedelta(minutes=20)
    e.update(alert("a", ended=end), end)
    [resolved] = run(e, end, 1)
    assert (resolved.reason, [a.ends_at for a in resolved.alerts]) == (Reason.RESOLVED, [end])


def test_an_alert_muted_from_the_start_and_resolved_tells_nobody() -> None:
    e = engine()
    e.set_silences([Silence((parse_matcher("carrier=~viet.*"),), T0, T0 + timedelta(hours=1))])
    e.update(alert("a"), T0)
    e.update(alert("a", ended=T0 + timedelta(minutes=5)), T0 + timedelta(minutes=5))
    assert run(e, T0, 900) == []
    assert e.groups == {}


def test_acknowledging_stops_repeats_and_escalation() -> None:
    e = engine(Route(escalate_to="oncall-2", escalate_after=600))
    e.update(alert("a"), T0)
    run(e, T0, 30)
    e.set_acked({"fp-a"})
    later = run(e, T0 + timedelta(seconds=31), 4000)
    assert later == []  # no repeat, no escalation


def test_an_unacknowledged_critical_alert_in_a_session_escalates_after_the_delay() -> None:
    e = engine(Route(escalate_to="oncall-2", escalate_after=600))
    e.update(alert("a"), T0)
    sent = run(e, T0, 700)
    assert [(n.receiver, n.reason) for n in sent] == [("oncall", Reason.NEW),
                                                      ("oncall-2", Reason.ESCALATION)]
    at = sent[1].created_at - T0
    assert timedelta(seconds=630) <= at <= timedelta(seconds=632)  # told at 30 s, +600 s
    end = T0 + timedelta(seconds=800)
    e.update(alert("a", ended=end), end)
    resolved = run(e, end, 301)
    assert sorted((n.receiver, n.reason) for n in resolved) == [
        ("oncall", Reason.RESOLVED), ("oncall-2", Reason.RESOLVED)]


def test_no_escalation_outside_a_session_or_for_a_warning() -> None:
    route = Route(escalate_to="x", escalate_after=60)
    for e, a in [(engine(route, in_session=False), alert("a")),
                 (engine(route), alert("a", severity="warning"))]:
        e.update(a, T0)
        assert [n.receiver for n in run(e, T0, 600)] == ["oncall"]


def test_routes_give_each_carrier_its_own_alerts_and_continue_to_the_next() -> None:
    e = engine(
        Route(matchers=(parse_matcher("severity=critical"),), receivers=("oncall",),
              continue_=True),
        Route(matchers=(parse_matcher("carrier=viettel"),), receivers=("viettel-noc",)),
        Route(matchers=(parse_matcher("carrier=vnpt"),), receivers=("vnpt-noc",)),
    )
    e.update(alert("a", carrier="viettel"), T0)
    e.update(alert("b", carrier="vnpt", severity="warning"), T0)
    sent = {(n.receiver, tuple(names(n))) for n in run(e, T0, 40)}
    assert sent == {("oncall", ("a",)), ("viettel-noc", ("a",)), ("vnpt-noc", ("b",))}


def test_after_a_restart_nothing_already_told_is_told_again() -> None:
    before = engine()
    before.update(alert("a", group="g"), T0)
    [told] = run(before, T0, 30)
    after = engine()
    after.restore([told], T0 + timedelta(minutes=2))
    after.update(alert("a", group="g"), T0 + timedelta(minutes=2))  # still open
    after.settle({"fp-a"}, T0 + timedelta(minutes=2))
    assert run(after, T0 + timedelta(minutes=2), 200) == []
    # one that resolved while examnet was down is told as resolved
    again = engine()
    again.restore([told], T0 + timedelta(minutes=3))
    again.settle(set(), T0 + timedelta(minutes=3))
    [resolved] = run(again, T0 + timedelta(minutes=3), 1)
    assert resolved.reason == Reason.RESOLVED


def test_a_severity_rise_reaches_a_route_for_critical_alerts() -> None:
    e = engine(Route(matchers=(parse_matcher("severity=critical"),), receivers=("pager",)),
               Route(receivers=("chat",)))
    warning = alert("a", severity="warning")
    e.update(warning, T0)
    [chat] = run(e, T0, 30)
    assert chat.receiver == "chat"
    e.update(replace(warning, labels={**warning.labels, "severity": "critical"}),
             T0 + timedelta(seconds=60))
    [page] = run(e, T0 + timedelta(seconds=60), 30)
    assert (page.receiver, page.reason) == ("pager", Reason.NEW)
