"""The lab's plan, its guard and its flood, without root or a network.

The plan is checked against the design in lab/examlab/topology.py: names,
addresses, routes and rules; the guard reads a /proc/net/route written here;
the flood runs against a fake socket and clock.
"""

from __future__ import annotations

import argparse
from datetime import UTC, datetime
from ipaddress import IPv4Address, IPv4Network
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from examlab import build as lab_build
from examlab import cli, flood
from examlab import impair as lab_impair
from examlab import shell as lab_shell
from examlab import state as lab_state
from examlab import status as lab_status
from examlab.topology import (
    IFNAME_MAX,
    LabPlan,
    LabPlanError,
    Port,
    Route,
    UnknownTargetError,
    plan_lab,
)
from monitor import labguard
from monitor.model.calendar import Calendar, Plan, TimeRange
from monitor.model.inventory import (
    Carrier,
    Endpoint,
    Inventory,
    Lab,
    Link,
    ProbeSettings,
    Site,
    Thresholds,
)
from monitor.model.labplan import MAX_ENDPOINTS, infra_block
from monitor.model.vocabulary import EndpointKind, LinkKind

NETWORK = IPv4Network("10.79.0.0/16")
INFRA = IPv4Network("10.79.255.0/24")
DAY = datetime(2027, 6, 3, tzinfo=UTC)


def link(site: str, ident: str, address: str, upstream: str | None) -> Link:
    carrier = "vnpt" if "vnpt" in ident else "viettel"
    return Link(ident, site, carrier, LinkKind.FIBRE, address, upstream, None, Thresholds())


def inventory(
    endpoints: tuple[Endpoint, ...] | None = None,
    sites: tuple[Site, ...] | None = None,
    lab: Lab | None = Lab(NETWORK, "ext"),  # noqa: B008 - frozen, shared on purpose
) -> Inventory:
    if endpoints is None:
        endpoints = (
            Endpoint("vt-core", "viettel", EndpointKind.CORE, "10.79.0.1"),
            Endpoint("vnpt-gw", "vnpt", EndpointKind.GATEWAY, "10.79.0.2"),
        )
    if sites is None:
        sites = (
            Site("a", "A", "Cao Lộc", None, 2, (
                link("a", "vt-fibre", "10.79.1.1", "vt-core"),
                link("a", "vnpt-fibre", "10.79.1.2", "vnpt-gw"),
                link("a", "vt-4g", "10.79.1.3", "vt-core"),
            )),
            Site("b", "B", "Lộc Bình", None, 1, (
                link("b", "a-link-id-far-too-long", "10.79.2.1", "vt-core"),
                link("b", "vt-bts", "10.79.2.2", None),
            )),
        )  # fmt: skip
    return Inventory(
        source=Path("lab.toml"),
        plan=Plan("test", ZoneInfo("Asia/Ho_Chi_Minh")),
        calendar=Calendar(None, TimeRange(DAY, DAY.replace(day=6)), None, ()),
        carriers=(Carrier("viettel", "Viettel", ""), Carrier("vnpt", "VNPT", "")),
        endpoints=endpoints,
        sites=sites,
        thresholds=Thresholds(),
        probe=ProbeSettings(),
        lab=lab,
    )


@pytest.fixture
def plan() -> LabPlan:
    return plan_lab(inventory())


def routes(plan: LabPlan, namespace: str | None) -> set[tuple[str, ...]]:
    return {tuple(r.spec()) for r in plan.routes if r.namespace == namespace}


# --- names ----------------------------------------------------------------------


def test_it_names_one_namespace_per_endpoint_and_site_after_a_hub(plan: LabPlan) -> None:
    assert plan.namespace_names() == ("ext-hub", "ext-ep0", "ext-ep1", "ext-s0", "ext-s1")
    assert dict(plan.sites) == {"a": "ext-s0", "b": "ext-s1"}
    assert plan.endpoint("vt-core").namespace == "ext-ep0"


def test_every_interface_name_fits_and_is_unique_in_its_namespace(plan: LabPlan) -> None:
    ports = [p for v in plan.veths for p in (v.left, v.right)]
    assert all(len(p.device) <= IFNAME_MAX for p in ports)
    assert len(set(ports)) == len(ports)
    assert [p.device for p in ports if p.namespace is None] == ["ext-mon"]


def test_it_names_site_devices_after_link_ids_when_they_fit(plan: LabPlan) -> None:
    assert plan.link("a/vt-4g").site_side == Port("ext-s0", "vt-4g")
    assert plan.link("b/a-link-id-far-too-long").site_side == Port("ext-s1", "l0")
    assert plan.target("a/vt-4g").carrier_side == Port("ext-ep0", "s0-l2")


def test_an_unknown_target_names_some_known_ones(plan: LabPlan) -> None:
    with pytest.raises(UnknownTargetError, match=r"'a/nope'.*vt-core, vnpt-gw, a/vt-fibre"):
        plan.target("a/nope")


# --- addresses and routes -------------------------------------------------------------


def test_infra_addresses_lie_in_the_last_slash_24(plan: LabPlan) -> None:
    assert infra_block(NETWORK) == INFRA
    transit = [a.interface for a in plan.addresses if a.interface.network.prefixlen == 30]
    assert len(transit) == 2 + 2 * 2
    assert all(i.ip in INFRA for i in transit)
    assert str(plan.monitor) == "10.79.255.1/30"
    assert str(plan.hub) == "10.79.255.2/30"


def test_the_root_namespace_gets_one_route_the_lab_network_via_the_hub(plan: LabPlan) -> None:
    assert routes(plan, None) == {("10.79.0.0/16", "via", "10.79.255.2", "dev", "ext-mon")}


def test_the_hub_reaches_endpoints_and_their_links_by_transit(plan: LabPlan) -> None:
    hub = routes(plan, "ext-hub")
    assert ("10.79.0.1/32", "via", "10.79.255.6", "dev", "ep0") in hub
    assert ("10.79.1.2/32", "via", "10.79.255.10", "dev", "ep1") in hub
    assert ("10.79.2.2/32", "dev", "s1-l1") in hub  # no upstream: straight off the hub
    assert ("unreachable", "10.79.0.0/16") in hub


def test_an_endpoint_reaches_the_monitor_via_the_hub_and_its_links_directly(
    plan: LabPlan,
) -> None:
    assert routes(plan, "ext-ep0") == {
        ("10.79.255.0/30", "via", "10.79.255.5", "dev", "hub"),
        ("10.79.1.1/32", "dev", "s0-l0"),
        ("10.79.1.3/32", "dev", "s0-l2"),
        ("10.79.2.1/32", "dev", "s1-l0"),
        ("unreachable", "10.79.0.0/16"),
    }


def test_a_site_answers_each_link_over_that_link(plan: LabPlan) -> None:
    assert routes(plan, "ext-s0") == {
        ("default", "via", "10.79.0.1", "dev", "vt-fibre", "onlink", "table", "100"),
        ("default", "via", "10.79.0.2", "dev", "vnpt-fibre", "onlink", "table", "101"),
        ("default", "via", "10.79.0.1", "dev", "vt-4g", "onlink", "table", "102"),
    }
    rules = [r.spec() for r in plan.rules if r.namespace == "ext-s0"]
    assert rules[2] == ["from", "10.79.1.3", "lookup", "102", "priority", "1002"]
    assert plan.link("b/vt-bts").gateway == IPv4Address("10.79.255.2")  # the hub


def test_link_addresses_sit_on_the_site_end_as_host_addresses(plan: LabPlan) -> None:
    site_addresses = {str(a.interface) for a in plan.addresses if a.port.namespace == "ext-s0"}
    assert site_addresses == {"10.79.1.1/32", "10.79.1.2/32", "10.79.1.3/32"}


def test_routes_through_a_port_are_what_downing_it_flushes(plan: LabPlan) -> None:
    through = plan.routes_through(Port("ext-hub", "ep0"))
    assert {r.destination for r in through} == {
        "10.79.0.1/32", "10.79.1.1/32", "10.79.1.3/32", "10.79.2.1/32",
    }  # fmt: skip


def test_the_fingerprint_follows_the_inventory(plan: LabPlan) -> None:
    assert plan_lab(inventory()).fingerprint() == plan.fingerprint()
    fewer = inventory(sites=inventory().sites[:1])
    assert plan_lab(fewer).fingerprint() != plan.fingerprint()


# --- refusals ---------------------------------------------------------------------


def test_it_refuses_more_endpoints_than_the_infra_block_holds() -> None:
    many = tuple(
        Endpoint(f"e{i}", "viettel", EndpointKind.CORE, f"10.79.{i // 200}.{i % 200 + 1}")
        for i in range(MAX_ENDPOINTS + 1)
    )
    with pytest.raises(LabPlanError, match=r"64 endpoints: .* at most 63 .* 10\.79\.255\.0/24"):
        plan_lab(inventory(endpoints=many, sites=()))


@pytest.mark.parametrize(
    ("address", "message"),
    [
        ("10.80.0.1", "outside the lab network 10.79.0.0/16"),
        ("10.79.255.77", "in 10.79.255.0/24, kept for lab transit"),
        ("10.79.0.2", "also used by endpoint vnpt-gw"),
        ("fd00::1", "outside the lab network"),
        ("gw.example", "not an IP address"),
    ],
)
def test_it_refuses_addresses_that_do_not_fit(address: str, message: str) -> None:
    sites = (Site("a", "A", "Cao Lộc", None, 1, (link("a", "vt", address, "vt-core"),)),)
    with pytest.raises(LabPlanError, match=rf"link a/vt: address .*{message}"):
        plan_lab(inventory(sites=sites))


def test_it_refuses_an_inventory_without_a_lab() -> None:
    with pytest.raises(LabPlanError, match=r"lab\.toml: no \[lab\] section"):
        plan_lab(inventory(lab=None))


def test_it_refuses_a_network_too_small_or_public() -> None:
    with pytest.raises(LabPlanError, match=r"lab\.network 10\.79\.0\.0/24: expected a private"):
        plan_lab(inventory(lab=Lab(IPv4Network("10.79.0.0/24"), "ext")))
    with pytest.raises(LabPlanError, match=r"lab\.network 11\.0\.0\.0/16"):
        plan_lab(inventory(lab=Lab(IPv4Network("11.0.0.0/16"), "ext")))


# --- commands built from the plan -------------------------------------------------


def test_each_namespace_is_configured_addresses_then_links_then_routes(plan: LabPlan) -> None:
    lines = lab_build.namespace_lines(plan, "ext-s1")
    assert lines[0] == "addr add 10.79.2.1/32 dev l0"
    assert lines.index("link set l0 up") < lines.index(
        "route replace default via 10.79.0.1 dev l0 onlink table 100"
    )
    assert lines[-1] == "rule add from 10.79.2.2 lookup 101 priority 1001"
    assert lab_build.namespace_lines(plan, None)[-1] == (
        "route replace 10.79.0.0/16 via 10.79.255.2 dev ext-mon"
    )


def test_loss_rules_are_rebuilt_whole_for_one_namespace(plan: LabPlan) -> None:
    state = lab_state.LabState.for_plan(plan)
    state.impairment("a/vt-4g").loss = 50
    state.impairment("vt-core").loss = 10
    ruleset = lab_impair.nft_ruleset(plan, state, "ext-s0")
    assert ruleset.startswith("table inet examnet_impair\ndelete table inet examnet_impair\n")
    assert 'iifname "vt-4g" icmp type echo-request numgen random mod 100 < 50 drop' in ruleset
    assert "< 10" not in ruleset  # the endpoint's rule lives in its own namespace
    assert lab_impair.nft_ruleset(plan, state, "ext-s1").count("\n") == 2  # nothing left: no table


def test_unreachable_answers_come_from_netfilter_for_the_lab_network(plan: LabPlan) -> None:
    rules = lab_build.unreachable_ruleset(plan)
    assert "ip daddr 10.79.0.0/16 fib daddr type != local fib daddr oif missing" in rules
    assert "reject with icmp type host-unreachable" in rules


def test_a_token_bucket_holds_at_least_one_full_frame() -> None:
    assert lab_impair.tbf_args(256_000) == [
        "tbf", "rate", "256000bit", "burst", "2000", "latency", "300ms",
    ]  # fmt: skip
    assert lab_impair.tbf_args(100_000_000)[4] == "125000"


def test_the_state_round_trips_through_json(plan: LabPlan, tmp_path: Path) -> None:
    store = lab_state.StateStore("ext", tmp_path)
    state = lab_state.LabState.for_plan(plan)
    state.impairment("a/vt-4g").rate = "256kbit"
    state.floods.append(lab_state.Flood(123, 456, "a/vt-4g", 1.5))
    store.save(state)
    assert store.load() == state
    store.path.write_text("{not json")
    assert store.load() is None


# --- guard ------------------------------------------------------------------------------

PROC_ROUTE_HEADER = (
    "Iface\tDestination\tGateway \tFlags\tRefCnt\tUse\tMetric\tMask\t\tMTU\tWindow\tIRTT\n"
)
PROC_ROUTE_LAB = (
    "eth0\t00000000\t010200C0\t0003\t0\t0\t0\t00000000\t0\t0\t0\n"
    "ext-mon\t00004F0A\t02FF4F0A\t0003\t0\t0\t0\t0000FFFF\t0\t0\t0\n"
    "ext-mon\t00FF4F0A\t00000000\t0001\t0\t0\t0\tFCFFFFFF\t0\t0\t0\n"
)


def write_routes(tmp_path: Path, body: str) -> Path:
    path = tmp_path / "route"
    path.write_text(PROC_ROUTE_HEADER + body)
    return path


def test_the_guard_sees_the_lab_route_through_its_monitor_veth(tmp_path: Path) -> None:
    lab = Lab(NETWORK, "ext")
    assert labguard.lab_route_present(lab, write_routes(tmp_path, PROC_ROUTE_LAB))
    default_only = PROC_ROUTE_LAB.splitlines(keepends=True)[0]
    assert not labguard.lab_route_present(lab, write_routes(tmp_path, default_only))
    assert not labguard.lab_route_present(
        Lab(NETWORK, "exn"), write_routes(tmp_path, PROC_ROUTE_LAB)
    )
    assert not labguard.lab_route_present(lab, tmp_path / "missing")


def test_the_guard_reports_routes_that_overlap_the_lab(tmp_path: Path) -> None:
    path = write_routes(tmp_path, PROC_ROUTE_LAB)
    assert labguard.routes_overlapping(NETWORK, "ext-mon", path) == ()
    clashes = labguard.routes_overlapping(IPv4Network("10.79.255.0/24"), "other", path)
    assert [str(r.destination) for r in clashes] == ["10.79.0.0/16", "10.79.255.0/30"]


def test_targets_in_lab_are_those_inside_its_network() -> None:
    sites = (Site("a", "A", "Cao Lộc", None, 1, (link("a", "vt", "10.79.1.1", "vt-core"),)),)
    mixed = inventory(
        endpoints=(Endpoint("vt-core", "viettel", EndpointKind.DNS, "dns.example"),), sites=sites
    )
    assert [t.key for t in labguard.targets_in_lab(mixed)] == ["link:a/vt"]
    assert labguard.targets_in_lab(inventory(lab=None)) == ()


# --- flood ----------------------------------------------------------------------------


class FakeSocket:
    def __init__(self) -> None:
        self.sent: list[tuple[str, int]] = []

    def sendto(self, data: bytes, address: tuple[str, int]) -> int:
        self.sent.append(address)
        return len(data)


class FakeTime:
    def __init__(self) -> None:
        self.now = 0.0

    def clock(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.now += max(seconds, 0.001)


def spec(destination: str = "10.79.1.1", seconds: float = 2.0, **kw: int) -> flood.FloodSpec:
    return flood.FloodSpec(
        IPv4Address(destination), NETWORK, None, seconds, kw.pop("rate", 1_000_000), **kw
    )


def test_rates_read_like_tc() -> None:
    assert flood.parse_rate("256kbit") == 256_000
    assert flood.parse_rate("10mbit") == 10_000_000
    assert flood.parse_rate("1.5mbit") == 1_500_000
    with pytest.raises(ValueError, match="expected a number with bit"):
        flood.parse_rate("fast")
    with pytest.raises(ValueError, match="between 8kbit and 100mbit"):
        flood.parse_rate("1gbit")


def test_the_flood_is_paced_and_bounded_by_time_and_count() -> None:
    sock, fake = FakeSocket(), FakeTime()
    result = flood.run(spec(), sock, fake.clock, fake.sleep)  # type: ignore[arg-type]
    expected = 2.0 * 1_000_000 / ((1200 + flood.HEADERS) * 8)
    assert abs(result.sent - expected) <= 2
    assert set(sock.sent) == {("10.79.1.1", 9)}
    capped = flood.run(spec(max_packets=10), FakeSocket(), fake.clock, fake.sleep)  # type: ignore[arg-type]
    assert capped.sent == 10


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"destination": "10.80.0.1"}, "outside the lab network"),
        ({"destination": "10.79.1.1", "seconds": 601}, "at most 600"),
        ({"destination": "10.79.1.1", "max_packets": 2_000_000}, "at most 1000000"),
    ],
)
def test_the_flood_refuses_what_could_leave_the_lab(
    tmp_path: Path, kwargs: dict[str, object], message: str
) -> None:
    no_default = write_routes(tmp_path, PROC_ROUTE_LAB.split("\n", 1)[1])
    with pytest.raises(flood.FloodRefusedError, match=message):
        flood.check(spec(**kwargs), no_default)  # type: ignore[arg-type]


def test_the_flood_refuses_a_namespace_with_a_default_route(tmp_path: Path) -> None:
    with pytest.raises(flood.FloodRefusedError, match="default route"):
        flood.check(spec(), write_routes(tmp_path, PROC_ROUTE_LAB))


# --- command line -------------------------------------------------------------------


def test_without_root_it_says_so_plainly(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr("os.geteuid", lambda: 1000)
    assert cli.run(argparse.Namespace(lab_command="up")) == 1
    assert capsys.readouterr().err.startswith("examnet lab needs root: ")


def test_status_is_a_table_with_rates_in_tc_units() -> None:
    target = lab_status.TargetStatus("a/vt", "link", "10.79.1.1", "ext-s0", False, "256000bit", 20)
    status = lab_status.LabStatus(
        "ext", "10.79.0.0/16", True, True, True, 5, 5, True, "10.79.255.1", (target,), ()
    )
    lines = cli.status_lines(status)
    assert lines[0] == "lab ext: up (5/5 namespaces), network 10.79.0.0/16"
    assert lines[-1].split() == ["a/vt", "link", "10.79.1.1", "ext-s0", "down", "256kbit", "20%"]
    assert cli.rate_text("1500000bit") == "1500kbit"


def test_routes_render_as_ip_arguments() -> None:
    route = Route("ns", "default", device="l0", via=IPv4Address("10.0.0.1"), table=100, onlink=True)
    assert route.spec() == ["default", "via", "10.0.0.1", "dev", "l0", "onlink", "table", "100"]


LAB_SITES = Path(__file__).resolve().parents[1] / "data" / "lab-sites.toml"


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["impair", "thpt-a/vt-fibre", "rate", "fast"], "rate 'fast': expected a number with bit"),
        (["impair", "thpt-a/vt-fibre", "loss", "150"], "loss '150': expected a whole percentage"),
        (["impair", "thpt-a/vt-fibre", "rate"], "impair rate takes a value"),
        (["impair", "thpt-a/vt-fibre", "down", "now"], "impair down takes no value"),
        (["impair", "thpt-a/nope", "up"], "unknown target 'thpt-a/nope'"),
    ],
)
def test_bad_impairments_are_refused_before_anything_runs(
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    argv: list[str],
    message: str,
) -> None:
    monkeypatch.setattr("os.geteuid", lambda: 0)
    monkeypatch.setattr(lab_shell.Shell, "run", lambda *_a, **_k: pytest.fail("ran a command"))
    assert cli.main([*argv, "--config", str(LAB_SITES)]) == 2
    assert message in capsys.readouterr().err
