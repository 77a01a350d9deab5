"""Whose fault it is: devices behind their links, children after their parent, unmeasured links.

The evaluator on a fake clock (issue 9: one cause is one page; issue 10:
could not measure is not down).
"""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path

import pytest

from alerts.rules import group_of, labels_for
from monitor.config import load_inventory
from monitor.evaluation import Evaluator, RoundOutcome
from monitor.evaluation.counters import InterfaceRates
from monitor.model.inventory import Inventory
from monitor.model.records import IncidentRecord, StateChange
from tests.fixtures.inventories import province
from tests.unit.test_evaluation import BEFORE, LOST, STEP, World, answered

ROUTER = "device:s0/router"  # at s0's Viettel link's address
UPS = "device:s0/ups"  # on s0's LAN, polled over its Viettel link (via)
FAILED = RoundOutcome(answered().figures, error="round cut short: it outlived its time budget")

DEVICES = """
[[sites.devices]]
id = "router"
address = "127.1.0.1"
snmp = { version = "2c", community = "c0mmunity" }

[[sites.devices]]
id = "ups"
address = "127.1.0.10"
via = "vt"
snmp = { version = "2c", community = "c0mmunity" }
ups = true
"""


@pytest.fixture
def inventory(tmp_path: Path) -> Inventory:
    text = province(sites=2)
    marker = 'upstream = "vnpt-gw"\n'
    first = text.index(marker) + len(marker)  # after site s0's last link
    path = tmp_path / "province.toml"
    path.write_text(text[:first] + DEVICES + text[first:], encoding="utf-8")
    return load_inventory(path, {})


class Polled(World):
    """A World whose SNMP devices are polled too, every round."""

    def poll(self, device: str, ok: bool) -> None:
        error = None if ok else "no answer (wrong community or device down)"
        self.events += self.ev.observe_device(
            device, error, self.now, timed_out=not ok, down_after=2
        )

    def round_and_poll(self, outcomes: dict[str, RoundOutcome], polls: dict[str, bool]) -> None:
        self.round(outcomes, default=answered())
        for device, ok in polls.items():
            self.poll(device, ok)

    def opened(self) -> list[IncidentRecord]:
        return [i for i in self.incidents().values() if i.ended_at is None]


def gateway_cut(start: int) -> dict[str, RoundOutcome]:
    del start
    return {
        "endpoint:vt-gw": LOST,
        **{f"link:s{i}/vt": LOST for i in range(2)},
        "link:shared/vt": answered(),
    }


def test_it_attributes_devices_polled_over_a_cut_gateway_to_the_gateway(
    inventory: Inventory,
) -> None:
    w = Polled(inventory, BEFORE)
    w.rounds(2, {}, default=answered())
    for _ in range(4):
        w.round_and_poll(gateway_cut(0), {ROUTER: False, UPS: False})

    assert w.ev.devices[ROUTER].status == "no_answer"
    assert w.ev.devices[UPS].status == "no_answer"
    kinds = {(i.subject, i.kind) for i in w.opened()}
    assert ("endpoint:vt-gw", "endpoint_down") in kinds
    assert not [k for k in kinds if k[1] == "device_unreachable"]  # no page of their own
    held = w.ev.book.holds("device", ROUTER, "device_unreachable")  # type: ignore[arg-type]
    assert held is not None
    assert held.quiet
    assert held.cause == "target|endpoint:vt-gw|endpoint_down"
    assert held.carrier == "viettel"
    reason = [c for c in w.events if getattr(c, "subject", "") == UPS][-1].reason
    assert "polled over link:s0/vt, which is down" in reason
    assert "wrong community" not in reason


def test_it_keeps_devices_quiet_until_their_next_poll_after_the_gateway_is_back(
    inventory: Inventory,
) -> None:
    w = Polled(inventory, BEFORE)
    w.rounds(2, {}, default=answered())
    for _ in range(4):
        w.round_and_poll(gateway_cut(0), {ROUTER: False, UPS: False})
    for _ in range(3):  # the gateway is back; the devices are not polled yet
        w.round({}, default=answered())
    assert w.ev.status("link:s0/vt") == "up"
    assert not [i for i in w.opened() if i.kind == "device_unreachable"]
    w.poll(ROUTER, ok=True)  # the router answers: nothing more to say
    assert w.ev.book.holds("device", ROUTER, "device_unreachable") is None  # type: ignore[arg-type]
    w.poll(UPS, ok=False)  # the UPS still does not: its own fault now
    [ups] = [i for i in w.opened() if i.kind == "device_unreachable"]
    assert (ups.subject, ups.carrier, ups.site, ups.cause) == (UPS, "viettel", "s0", None)


def test_it_pages_a_dead_device_on_a_working_link_with_its_links_carrier(
    inventory: Inventory,
) -> None:
    w = Polled(inventory, BEFORE)
    w.rounds(2, {}, default=answered())
    for _ in range(2):
        w.round_and_poll({}, {UPS: False})
    [ups] = [i for i in w.opened() if i.kind == "device_unreachable"]
    assert ups.carrier == "viettel"  # a carrier="viettel" maintenance silence holds it
    assert ups.cause is None
    assert group_of(ups) == "site|s0"  # grouped with its site's other troubles


VT_CUT = {"endpoint:vt-gw": LOST, "link:s0/vt": LOST, "link:s1/vt": LOST}


def _after_a_gateway_cut(inventory: Inventory) -> World:
    """Two rounds of everything up, then three with Viettel's gateway and both its links lost."""
    w = World(inventory, BEFORE)
    w.rounds(2, {}, default=answered())
    w.rounds(3, VT_CUT, default=answered())
    return w


def test_it_makes_a_child_still_down_after_its_parent_recovers_its_sites_problem_at_once(
    inventory: Inventory,
) -> None:
    w = _after_a_gateway_cut(inventory)
    [site] = [i for i in w.incidents(subject="s0", kind="lost_redundancy").values()]
    assert site.cause == "target|endpoint:vt-gw|endpoint_down"
    back = w.now
    # the gateway and s1 come back; s0's Viettel link stays down
    w.rounds(2, {"link:s0/vt": LOST}, default=answered())
    assert w.ev.status("endpoint:vt-gw") == "up"
    [own] = [i for i in w.incidents(subject="link:s0/vt", kind="down").values()]
    assert own.cause is None  # its own fault, not the recovered gateway's
    assert own.started_at <= back + 2 * STEP  # within up_after rounds of the recovery
    assert group_of(own) == "site|s0"
    [site] = [
        i for i in w.incidents(subject="s0", kind="lost_redundancy").values() if i.ended_at is None
    ]
    assert site.cause is None  # the site's problem is its own now, grouped with the link
    assert not w.incidents(subject="link:s1/vt", kind="down")  # s1 recovered: never its own


def test_it_does_not_count_a_link_it_could_not_measure_as_a_lost_carrier(
    inventory: Inventory,
) -> None:
    w = World(inventory, BEFORE)
    w.rounds(2, {}, default=answered())
    w.rounds(4, {"link:s0/vt": FAILED, "link:s0/vnpt": FAILED}, default=answered())
    assert w.ev.status("link:s0/vt") == "unknown"
    assert not w.incidents(subject="s0")  # no lost_redundancy, no isolation
    assert w.ev.sites["s0"].status == "unknown"
    assert w.ev.sites["s0"].reason.startswith("could not measure")


def test_it_still_sees_lost_redundancy_when_the_measured_links_say_so(
    inventory: Inventory,
) -> None:
    w = World(inventory, BEFORE)
    w.rounds(2, {}, default=answered())
    w.rounds(4, {"link:s0/vt": LOST, "link:s0/vnpt": FAILED}, default=answered())
    # one carrier lost for sure, the other unmeasured: at most one left of two required
    assert w.ev.sites["s0"].status == "lost_redundancy"


def test_it_names_no_carrier_of_a_link_outside_its_window(tmp_path: Path) -> None:
    from tests.fixtures.inventories import TWO_CARRIER_SITE, inventory_from  # noqa: PLC0415

    inventory = inventory_from(TWO_CARRIER_SITE, tmp_path)
    before_window = datetime(2027, 5, 25, 1, 0, tzinfo=BEFORE.tzinfo)  # the BTS is not there
    ev = Evaluator(inventory)
    targets = {t.key: t for t in inventory.targets()}
    events: list[object] = []
    for i in range(3):
        at = before_window + timedelta(seconds=10 * i)
        for key in ("endpoint:viettel-gw", "link:thpt-a/vnpt-fibre"):
            events += ev.observe(targets[key], answered(), at)
        events += ev.observe(targets["link:thpt-a/viettel-fibre"], LOST, at)
    [site] = [e for e in events if isinstance(e, IncidentRecord) and e.subject == "thpt-a"]

    class Now:
        def carriers_up(self, site: str) -> tuple[str, ...]:
            return ev.sites[site].carriers_up

    labels = labels_for(site, inventory, Now())
    assert labels["carrier"] == "viettel"  # not "mobifone,viettel": the BTS is not active yet


def test_children_restored_down_get_their_recovery_grace_after_a_restart(
    inventory: Inventory,
) -> None:
    """Killed during a gateway outage and restarted: when the gateway comes back,
    its children (restored DOWN, with no time of fall) come back in their K rounds
    as its children, not as ten outages of their own that each page a site."""
    w = _after_a_gateway_cut(inventory)
    states = {(e.subject_kind, e.subject): e.state for e in w.events if isinstance(e, StateChange)}
    again = World(inventory, w.now)
    again.ev = Evaluator(inventory, states, list(w.incidents().values()))
    again.rounds(2, VT_CUT, default=answered())  # still cut after the restart
    again.rounds(3, {}, default=answered())  # the gateway and its links answer again
    assert again.ev.status("link:s0/vt") == "up"
    assert not again.incidents(subject="link:s0/vt", kind="down")
    assert not again.incidents(subject="link:s1/vt", kind="down")
    assert not again.incidents(kind="children_down")
    closed = [i for i in again.incidents(kind="lost_redundancy").values() if i.ended_at]
    assert {i.subject for i in closed} == {"s0", "s1"}
    assert all(i.cause == "target|endpoint:vt-gw|endpoint_down" for i in closed)


def _interface(w: World, link: str, up: bool) -> None:
    """A poll of the interface carrying `link`, taken now."""
    target = next(t for t in w.ev.memory.targets.values() if t.key == link)
    rates = InterfaceRates("eth1", 1, up, 10e6, no_rate="first poll")
    w.events += w.ev.observe_interface(target, rates, w.now - STEP, w.now)


def test_a_childs_interface_read_down_during_its_parents_outage_waits_for_the_next_poll(
    inventory: Inventory,
) -> None:
    """The echoes answer again rounds before SNMP next says the interface is up (the lab's
    exam morning, a flake): that stale reading is still the gateway's, not a page of its own."""
    w = _after_a_gateway_cut(inventory)
    _interface(w, "link:s0/vt", up=False)  # polled while the gateway is down
    w.rounds(5, {}, default=answered())  # back: past up_after + 1 rounds, no poll yet
    assert w.ev.status("endpoint:vt-gw") == "up"
    assert not w.incidents(subject="link:s0/vt", kind="down")
    _interface(w, "link:s0/vt", up=True)  # the next poll: up
    w.round({}, default=answered())
    assert w.ev.status("link:s0/vt") == "up"
    assert not w.incidents(subject="link:s0/vt", kind="down")  # never a page of its own


def test_a_childs_interface_still_down_at_a_poll_after_its_parent_is_back_is_its_own(
    inventory: Inventory,
) -> None:
    w = _after_a_gateway_cut(inventory)
    _interface(w, "link:s0/vt", up=False)
    w.rounds(2, {}, default=answered())
    _interface(w, "link:s0/vt", up=False)  # a poll after the gateway's return: fresh evidence
    w.rounds(3, {}, default=answered())
    [own] = [i for i in w.incidents(subject="link:s0/vt", kind="down").values()]
    assert own.cause is None
    assert own.reason == "interface eth1 is down (ifOperStatus)"
