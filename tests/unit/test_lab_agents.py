"""The lab's SNMP side without root or a network: where agents go, what snmpd is told,
what the simulated UPS answers, and where lab-only secrets are kept."""

from __future__ import annotations

import io
import json
import stat
import subprocess
import sys
from ipaddress import IPv4Network
from pathlib import Path

import pytest

from examlab import agents, cli, environment, shaping, ups_agent
from examlab import impair as lab_impair
from examlab import shell as lab_shell
from examlab import state as lab_state
from examlab.snmpd import AgentConfigError, AgentFiles, agent_files, snmpd_conf
from examlab.topology import LabPlan, LabPlanError, Role, plan_lab
from monitor.model.inventory import CustomOid, Device, Endpoint, Site, SnmpV2c, SnmpV3
from monitor.model.secrets import Secret
from monitor.model.vocabulary import AuthProtocol, EndpointKind, PrivProtocol
from tests.unit.test_lab_topology import inventory

COMMUNITY = "c0mmunity-Secret"
AUTH_KEY = "auth-key-Secret"
PRIV_KEY = "priv-key-Secret"
MONITOR = IPv4Network("10.79.255.0/30")
UPS_MIB = "1.3.6.1.2.1.33.1"
CELL_LOAD = "1.3.6.1.4.1.55555.1.1.0"


def v2c(ident: str, address: str, *, site: str | None = "a", **fields: object) -> Device:
    return Device(
        ident,
        address,
        161,
        SnmpV2c(Secret(COMMUNITY)),
        site=site,
        **fields,  # type: ignore[arg-type]
    )


def v3(ident: str, address: str, site: str = "b") -> Device:
    credentials = SnmpV3(
        "examnet", AuthProtocol.SHA256, Secret(AUTH_KEY), PrivProtocol.AES256, Secret(PRIV_KEY)
    )
    return Device(ident, address, 161, credentials, site=site)


CELL = CustomOid("cell_load", CELL_LOAD, "%", 80, 95)
ROUTER_A = v2c("router", "10.79.1.1")
UPS_A = v2c("ups", "10.79.1.10", ups=True)
ROUTER_B = v3("router", "10.79.2.2")
CONTROLLER = v2c("controller", "10.79.0.1", site=None, endpoint="vt-core", oids=(CELL,))


def with_devices() -> LabPlan:
    base = inventory()
    a, b = base.sites
    sites = (
        Site(a.id, a.name, a.district, None, 2, a.links, (ROUTER_A, UPS_A)),
        Site(b.id, b.name, b.district, None, 1, b.links, (ROUTER_B,)),
    )
    core, gateway = base.endpoints
    endpoints = (
        Endpoint(core.id, core.carrier, EndpointKind.CORE, core.address, devices=(CONTROLLER,)),
        gateway,
    )
    return plan_lab(inventory(endpoints=endpoints, sites=sites))


@pytest.fixture
def plan() -> LabPlan:
    return with_devices()


def routes(plan: LabPlan, namespace: str) -> set[tuple[str, ...]]:
    return {tuple(r.spec()) for r in plan.routes if r.namespace == namespace}


# --- where agents go ------------------------------------------------------------------


def test_it_plans_one_agent_per_device_address_in_its_owners_namespace(plan: LabPlan) -> None:
    found = {(a.name, a.role, a.devices, a.own_address) for a in plan.agents}
    assert found == {
        ("ext-s0-10.79.1.1", Role.SITE, ("device:a/router",), False),
        ("ext-s0-10.79.1.10", Role.SITE, ("device:a/ups",), True),
        ("ext-s1-10.79.2.2", Role.SITE, ("device:b/router",), False),
        ("ext-ep0-10.79.0.1", Role.ENDPOINT, ("device:vt-core/controller",), False),
    }
    assert [a.name for a in plan.agents_of("a")] == ["ext-s0-10.79.1.1", "ext-s0-10.79.1.10"]


def test_a_device_at_its_own_address_sits_on_lo_behind_the_sites_first_link(
    plan: LabPlan,
) -> None:
    site = {str(a.interface) for a in plan.addresses if a.port.namespace == "ext-s0"}
    assert "10.79.1.10/32" in site
    assert ("10.79.1.10/32", "dev", "s0-l0") in routes(plan, "ext-ep0")  # the first link's upstream
    assert ("10.79.1.10/32", "via", "10.79.255.6", "dev", "ep0") in routes(plan, "ext-hub")
    rules = [r.spec() for r in plan.rules if r.namespace == "ext-s0"]
    assert [
        "from",
        "10.79.1.10",
        "lookup",
        "100",
        "priority",
        "1503",
    ] in rules  # first link's table
    assert ("10.79.1.10", "s0-l0") in {(str(n.address), n.port.device) for n in plan.neighbours}


def test_devices_sharing_an_address_share_one_agent_with_their_ports() -> None:
    base = inventory()
    a = base.sites[0]
    second = Device("probe", "10.79.1.1", 1161, SnmpV2c(Secret(COMMUNITY)), site="a")
    sites = (Site(a.id, a.name, a.district, None, 2, a.links, (ROUTER_A, second)), base.sites[1])
    (agent,) = plan_lab(inventory(sites=sites)).agents
    assert agent.ports == (161, 1161)
    assert agent.devices == ("device:a/router", "device:a/probe")


def test_it_refuses_a_device_at_another_namespaces_address() -> None:
    base = inventory()
    a = base.sites[0]
    stray = v2c("router", "10.79.2.1")  # site b's link address
    sites = (Site(a.id, a.name, a.district, None, 2, a.links, (stray,)), base.sites[1])
    with pytest.raises(LabPlanError, match=r"device a/router: address 10.79.2.1 belongs to site b"):
        plan_lab(inventory(sites=sites))


def test_the_plan_describes_agents_without_any_secret(plan: LabPlan) -> None:
    text = json.dumps(plan.describe())
    assert '"ext-s0-10.79.1.10"' in text
    assert not any(s in text for s in (COMMUNITY, AUTH_KEY, PRIV_KEY))


# --- what snmpd is told ---------------------------------------------------------------


def conf_for(plan: LabPlan, name: str, devices: list[Device], tmp_path: Path) -> str:
    return snmpd_conf(plan.agent(name), devices, MONITOR, AgentFiles(tmp_path / name), "/py")


def test_a_v2c_community_is_accepted_from_the_monitors_transit_only(
    plan: LabPlan, tmp_path: Path
) -> None:
    conf = conf_for(plan, "ext-s0-10.79.1.1", [ROUTER_A], tmp_path)
    assert "sysName a/router\n" in conf
    assert f"rocommunity {COMMUNITY} 10.79.255.0/30\n" in conf


def test_a_v3_user_gets_net_snmp_tokens_and_authpriv_access(plan: LabPlan, tmp_path: Path) -> None:
    conf = conf_for(plan, "ext-s1-10.79.2.2", [ROUTER_B], tmp_path)
    assert f'createUser examnet SHA-256 "{AUTH_KEY}" AES-256 "{PRIV_KEY}"\n' in conf
    assert "rouser examnet priv\n" in conf
    assert "rocommunity" not in conf


def test_simulated_parts_are_served_by_the_ups_agent_script(plan: LabPlan, tmp_path: Path) -> None:
    ups = conf_for(plan, "ext-s0-10.79.1.10", [UPS_A], tmp_path)
    assert ".1.3.6.1.2.1.33 /py " in ups
    assert ups.count("pass_persist") == 1
    cell = conf_for(plan, "ext-ep0-10.79.0.1", [CONTROLLER], tmp_path)
    assert f"pass_persist .{CELL_LOAD} /py " in cell
    assert cell.rstrip().endswith(f"controller.json .{CELL_LOAD}")


def test_a_secret_snmpd_conf_cannot_carry_is_refused_without_showing_it(
    plan: LabPlan, tmp_path: Path
) -> None:
    bad = Device("router", "10.79.1.1", 161, SnmpV2c(Secret("two words")), site="a")
    with pytest.raises(AgentConfigError, match="a/router: community") as raised:
        conf_for(plan, "ext-s0-10.79.1.1", [bad], tmp_path)
    assert "two words" not in str(raised.value)


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_secrets_are_written_only_into_private_files(plan: LabPlan, tmp_path: Path) -> None:
    devices = {d.key: d for d in (ROUTER_A, UPS_A, ROUTER_B, CONTROLLER)}
    agents.prepare(plan, devices, tmp_path / "ext")
    assert _mode(tmp_path / "ext") == 0o700
    holding = []
    for path in (tmp_path / "ext").rglob("*"):
        assert _mode(path) == (0o700 if path.is_dir() else 0o600), path
        if path.is_file() and any(s in path.read_text() for s in (COMMUNITY, AUTH_KEY)):
            holding.append(path.name)
    assert sorted(holding) == ["snmpd.conf"] * 4
    state = json.loads((tmp_path / "ext" / "ext-ep0-10.79.0.1" / "controller.json").read_text())
    assert state == {"values": {CELL_LOAD: 40}}  # half its warning threshold


def test_snmpd_is_started_with_private_paths_and_no_inherited_environment(
    plan: LabPlan, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("EXAMNET_SNMP_COMMUNITY", COMMUNITY)
    files = AgentFiles(tmp_path / "a")
    agent = plan.agent("ext-s0-10.79.1.1")
    argv = agents.snmpd_argv(agent, files)
    assert argv[:5] == ["ip", "netns", "exec", "ext-s0", "snmpd"]
    assert argv[-1] == "udp:10.79.1.1:161"
    assert f"{files.conf},{files.persistent_conf}" in argv
    env = agents.snmpd_environment(files)
    assert set(env) == {"PATH", "HOME", "SNMP_PERSISTENT_DIR", "MIBS"}
    assert COMMUNITY not in json.dumps(env) + " ".join(argv)


# --- the simulated UPS ------------------------------------------------------------------


def ups_state(tmp_path: Path, ups: dict[str, object]) -> Path:
    path = tmp_path / "ups.json"
    path.write_text(json.dumps({"ups": ups, "values": {CELL_LOAD: 35}}))
    return path


def converse(state: Path, subtree: str, requests: str) -> list[str]:
    """Talk to ups_agent.py as snmpd does: a process, its stdin and stdout."""
    done = subprocess.run(
        [sys.executable, str(Path(ups_agent.__file__)), str(state), subtree],
        input=requests, capture_output=True, text=True, timeout=10, check=True,
    )  # fmt: skip
    assert done.stderr == ""
    return done.stdout.splitlines()


def test_the_ups_agent_answers_ping_get_and_refuses_set(tmp_path: Path) -> None:
    state = ups_state(tmp_path, {"on_battery_since": None})
    requests = (
        "PING\n"
        f"get\n.{UPS_MIB}.4.1.0\n"
        f"get\n.{UPS_MIB}.3.3.1.3.1\n"
        f"get\n.{UPS_MIB}.4.1\n"  # not an instance
        f"set\n.{UPS_MIB}.4.1.0\ninteger 5\n"
    )
    assert converse(state, ".1.3.6.1.2.1.33", requests) == [
        "PONG",
        f".{UPS_MIB}.4.1.0", "integer", "3",
        f".{UPS_MIB}.3.3.1.3.1", "integer", "220",
        "NONE",
        "not-writable",
    ]  # fmt: skip


def test_a_walk_of_the_ups_visits_every_object_in_oid_order_then_ends(tmp_path: Path) -> None:
    state = ups_state(tmp_path, {"on_battery_since": None})
    table = ups_agent.table(json.loads(state.read_text()), now=0.0)
    subtree = ups_agent.parse_oid("1.3.6.1.2.1.33")
    walked, oid = [], subtree
    while (found := ups_agent.get_next(table, oid, subtree)) is not None:
        oid = found[0]
        walked.append(oid)
    assert walked == sorted(o for o in table if o[: len(subtree)] == subtree)
    assert len(walked) == 12
    # .10 after .9, not after .1: numeric order, not text order
    assert converse(state, ".1.3.6.1.4.1.55555", "getnext\n.1.3.6.1.4.1.55555\n") == [
        f".{CELL_LOAD}", "gauge", "35",
    ]  # fmt: skip
    assert converse(state, ".1.3.6.1.2.1.33", f"getnext\n.{UPS_MIB}.6.1.0\n") == ["NONE"]


def test_on_battery_minutes_fall_with_time_and_low_is_battery_low() -> None:
    ups = {"on_battery_since": 1000.0, "minutes_at_switch": 40}
    at = {t: ups_agent.ups_values(ups, t) for t in (1000.0, 1000.0 + 5 * 10)}
    minutes = (1, 3, 6, 1, 2, 1, 33, 1, 2, 3, 0)
    assert at[1000.0][minutes][1] == 40
    assert at[1050.0][minutes][1] == 30
    assert at[1050.0][(1, 3, 6, 1, 2, 1, 33, 1, 2, 2, 0)][1] == 50  # upsSecondsOnBattery
    assert at[1050.0][(1, 3, 6, 1, 2, 1, 33, 1, 4, 1, 0)][1] == 5  # upsOutputSource battery
    low = agents.ups_state("low", 2000.0, {})
    values = ups_agent.ups_values(low, 2000.0)
    assert values[(1, 3, 6, 1, 2, 1, 33, 1, 2, 1, 0)][1] == 3  # batteryLow
    assert agents.ups_state("mains", 3000.0, low)["on_battery_since"] is None


def test_the_agent_loop_answers_each_request_as_it_comes(tmp_path: Path) -> None:
    out = io.StringIO()
    state = ups_state(tmp_path, {"on_battery_since": 0.0})
    lines = ["PING\n", "get\n", f".{UPS_MIB}.2.3.0\n", "\n"]
    ups_agent.serve(lines, out, state, ups_agent.parse_oid("1.3.6.1.2.1.33"), clock=lambda: 25.0)
    assert out.getvalue() == f"PONG\n.{UPS_MIB}.2.3.0\ninteger\n35\n"


# --- lab-only secrets -------------------------------------------------------------------


def test_only_unset_variables_get_values_and_kept_ones_are_reused() -> None:
    made = environment.generate(
        {"A", "B", "C", "D"}, {"A": "from-env", "B_FILE": "/x"}, {"C": "kept"}, token=lambda: "new"
    )
    assert made == {"C": "kept", "D": "new"}
    assert len(environment.generate({"X"}, {}, {})["X"]) >= 16


def test_the_environment_file_is_private_and_read_back(tmp_path: Path) -> None:
    path = environment.write_environment("ext", {"B": "two", "A": "o'ne"}, tmp_path)
    assert _mode(path) == 0o600
    assert path.read_text() == "A=o'ne\nB=two\n"
    assert environment.lab_environment("ext", tmp_path) == {"A": "o'ne", "B": "two"}
    assert environment.lab_environment("other", tmp_path) == {}
    assert environment.export_lines({"A": "o'ne"}) == ["export A='o'\"'\"'ne'"]


def test_a_lab_file_loads_with_placeholders_before_up(tmp_path: Path) -> None:
    source = Path(__file__).parents[1] / "data" / "lab-sites.toml"
    loaded = environment.load_lab_inventory(source, {}, tmp_path)
    router = next(d for d in loaded.devices() if d.key == "device:thpt-a/router")
    assert isinstance(router.credentials, SnmpV2c)
    assert router.credentials.community.reveal() == environment.PLACEHOLDER
    environment.write_environment("ext", {"EXAMNET_TEST_SNMP_COMMUNITY": "generated"}, tmp_path)
    again = environment.load_lab_inventory(source, {}, tmp_path)
    router = next(d for d in again.devices() if d.key == "device:thpt-a/router")
    assert isinstance(router.credentials, SnmpV2c)
    assert router.credentials.community.reveal() == "generated"


# --- rate shaping, state, command line ----------------------------------------------------


def test_protected_shaping_classifies_snmp_and_optionally_ping() -> None:
    lines = shaping.htb_lines("s0-l0", 2_000_000, ["snmp"])
    assert lines[0] == "qdisc add dev s0-l0 root handle 1: htb default 20"
    assert "class add dev s0-l0 parent 1: classid 1:1 htb rate 2000000bit ceil 2000000bit" in lines
    filters = [line for line in lines if line.startswith("filter")]
    assert len(filters) == 2
    assert all("match ip protocol 17 0xff" in f and f.endswith("flowid 1:10") for f in filters)
    assert "match ip protocol 1 0xff" in shaping.htb_lines("d", 2_000_000, ["snmp", "ping"])[-1]


def test_the_state_keeps_agents_and_owner_impairments(plan: LabPlan, tmp_path: Path) -> None:
    store = lab_state.StateStore("ext", tmp_path)
    state = lab_state.LabState.for_plan(plan)
    state.agents = [agents.AgentProcess("ext-s0-10.79.1.1", 123, 456)]
    state.owner("a").power = "battery"
    state.impairment("a/vt-4g").site_down = True
    store.save(state)
    assert store.load() == state
    assert lab_impair.nft_ruleset(plan, state, "ext-s0").count("\n") == 2  # no loss: no rules


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["impair", "thpt-a/vt-fibre", "rate", "1mbit", "--side", "site"], "takes no --side"),
        (["impair", "thpt-a/vt-fibre", "loss", "5", "--protect-snmp"], "takes no --protect-*"),
        (["impair", "thpt-a", "power", "solar"], "power takes one of mains, battery, low"),
        (["impair", "thpt-a", "snmp", "pause"], "snmp takes one of stop, start, restart"),
        (["impair", "vt-core", "cell-load", "101"], "cell-load '101': expected a whole"),
        (["impair", "nowhere", "power", "battery"], "unknown site or endpoint 'nowhere'"),
    ],
)
def test_bad_device_impairments_are_refused_before_anything_runs(
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    argv: list[str],
    message: str,
) -> None:
    monkeypatch.setattr("os.geteuid", lambda: 0)
    monkeypatch.setattr(lab_shell.Shell, "run", lambda *_a, **_k: pytest.fail("ran a command"))
    source = Path(__file__).parents[1] / "data" / "lab-sites.toml"
    assert cli.main([*argv, "--config", str(source)]) == 2
    assert message in capsys.readouterr().err


def test_impair_help_says_which_rate_lets_what_through(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        cli.main(["impair", "--help"])
    text = capsys.readouterr().out
    assert "--protect-snmp" in text
    assert "a token bucket (tbf) both ways: everything queues" in text


def test_an_agents_log_never_shows_its_secrets_in_an_error(plan: LabPlan, tmp_path: Path) -> None:
    devices = {d.key: d for d in (ROUTER_A, UPS_A, ROUTER_B, CONTROLLER)}
    agents.prepare(plan, devices, tmp_path)
    files = agent_files(tmp_path, plan.agent("ext-s1-10.79.2.2"))
    files.log.write_text(f"line 7: bad key {AUTH_KEY} / {PRIV_KEY}\n")
    assert agents.log_tail(files) == "line 7: bad key <secret> / <secret>"
