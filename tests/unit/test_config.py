"""sites.toml version 1: what loads, into what, and the exact problems of what does not."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from datetime import datetime, timedelta
from enum import StrEnum
from pathlib import Path

import pytest

from monitor.config import (
    BadValueError,
    ConfigError,
    Problem,
    address,
    capacity,
    duration,
    expand,
    load_inventory,
    referenced_variables,
    summarize,
)
from monitor.model.inventory import (
    DEFAULT_BLIND_SHARE,
    DEFAULT_CONGESTION_HOLD,
    DEFAULT_CONGESTION_SUSTAIN,
    DEFAULT_LOSS_CRIT,
    DEFAULT_POWER_LOW_MINUTES,
    DEFAULT_READINESS,
    DEFAULT_RTT_WARN_MS,
    DEFAULT_SEVERITY,
    DEFAULT_SNMP_INTERVAL,
    DEFAULT_SNMP_MAX_CONCURRENCY,
    DEFAULT_SNMP_PORT,
    DEFAULT_SNMP_RETRIES,
    DEFAULT_SNMP_SESSION_INTERVAL,
    DEFAULT_SNMP_TIMEOUT,
    InterfaceRef,
    Inventory,
    MonitorSettings,
    SeverityRow,
    SeverityTable,
    SnmpSettings,
    SnmpV2c,
    SnmpV3,
    Thresholds,
)
from monitor.model.vocabulary import (
    SEVERITY_ORDER,
    AuthProtocol,
    ConditionKind,
    EndpointKind,
    LinkKind,
    Phase,
    PrivProtocol,
    Severity,
    TargetKind,
    severity_rank,
    worst_severity,
)

REPO = Path(__file__).resolve().parents[2]
DATA = REPO / "tests" / "data"
INVALID = sorted((DATA / "invalid").glob("invalid-*.toml"))
SHIPPED = REPO / "sites.toml"

# values no test file may print; the invalid files use EXAMNET_TEST_PRIV
SECRETS = {
    "EXAMNET_TEST_AUTH": "auth-key-0451",
    "EXAMNET_TEST_PRIV": "priv-key-7c2e",
    "EXAMNET_TEST_COMMUNITY": "community-93fb",
}
NEVER_SET = "EXAMNET_TEST_NEVER_SET_7F3A"
# what the shipped file's ${NAME}s need; `examnet lab up` generates lab values
SHIPPED_SECRETS = {
    "EXAMNET_SNMP_COMMUNITY": "shipped-community-5d1e",
    "EXAMNET_SNMP_AUTH_KEY": "shipped-auth-key-80c4",
    "EXAMNET_SNMP_PRIV_KEY": "shipped-priv-key-2b97",
}
# the shipped file's one demonstration of fake redundancy: a VNPT line leased over Viettel
SHIPPED_WARNINGS = (
    'site "thpt-van-quan": links viettel-fibre (viettel) and vnpt-fibre (vnpt) both depend on '
    'endpoint "viettel-gw-lson": they count as one carrier for min_carriers',
    'site "thpt-van-quan": can never meet min_carriers = 2: its links form 1 independent group',
)
# the kind of each shipped link -> the capacity its router interface is given
SHIPPED_CAPACITY = {
    "fibre": 100_000_000,
    "copper": 20_000_000,
    "4g": 30_000_000,
    "bts": 50_000_000,
    "microwave": 100_000_000,
}

LANG_SON_DISTRICTS = {
    "Thành phố Lạng Sơn",
    "Cao Lộc",
    "Lộc Bình",
    "Đình Lập",
    "Chi Lăng",
    "Hữu Lũng",
    "Bắc Sơn",
    "Bình Gia",
    "Văn Quan",
    "Văn Lãng",
    "Tràng Định",
}


def expected_lines(path: Path) -> list[str]:
    """The `# expect:` lines at the top of a broken file, for this path."""
    found = re.findall(r"^# expect: (.*)$", path.read_text(encoding="utf-8"), re.MULTILINE)
    return [line.replace("{file}", str(path)) for line in found]


def problem_lines(path: Path, env: dict[str, str]) -> list[str]:
    with pytest.raises(ConfigError) as caught:
        load_inventory(path, env)
    return [str(p) for p in caught.value.problems]


def cli_env(extra: dict[str, str] | None = None) -> dict[str, str]:
    """The caller's environment without any EXAMNET_TEST_* or EXAMNET_SNMP_* it might
    carry, plus ours."""
    env = {
        k: v for k, v in os.environ.items() if not k.startswith(("EXAMNET_TEST_", "EXAMNET_SNMP_"))
    }
    ours = {"EXAMNET_TEST_PRIV": SECRETS["EXAMNET_TEST_PRIV"], "PYTHONIOENCODING": "utf-8"}
    return env | ours | (extra or {})


def run_check(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "monitor", "check", *args],
        capture_output=True,
        text=True,
        encoding="utf-8",
        env=cli_env(env),
        cwd=REPO,
        check=False,
        timeout=60,
    )


MINIMAL = """\
version = 1
{top}
[plan]
name = "{plan_name}"

[calendar]
during = {{ start = 2027-06-03T00:00:00, end = 2027-06-06T00:00:00 }}

[[carriers]]
id = "viettel"
name = "Viettel"

[[sites]]
id = "thpt-viet-bac"
name = "THPT Việt Bắc"
district = "Thành phố Lạng Sơn"
{site}
[[sites.links]]
id = "viettel-fibre"
carrier = "viettel"
kind = "fibre"
address = "10.77.11.1"
"""

DEVICE = """
[[sites.devices]]
id = "router"
address = "10.77.11.254"
snmp = {snmp}
"""


def write_config(
    tmp_path: Path, *, plan_name: str = "Test plan", top: str = "", site: str = ""
) -> Path:
    path = tmp_path / "sites.toml"
    path.write_text(MINIMAL.format(plan_name=plan_name, top=top, site=site), encoding="utf-8")
    return path


def with_device(tmp_path: Path, snmp: str) -> Path:
    return write_config(tmp_path, site=DEVICE.format(snmp=snmp))


def full() -> Inventory:
    return load_inventory(DATA / "valid-full.toml", dict(SECRETS))


def shipped() -> Inventory:
    return load_inventory(SHIPPED, dict(SHIPPED_SECRETS))


# --------------------------------------------------------------------------
# broken files: one exact message each


def test_it_has_a_broken_file_for_each_mistake_the_issue_lists() -> None:
    names = {p.stem.removeprefix("invalid-") for p in INVALID}
    required = {
        "syntax-error",
        "missing-required-field",
        "wrong-type",
        "unknown-key",
        "duplicate-id",
        "dangling-carrier",
        "dangling-upstream",
        "bad-address",
        "end-before-start",
        "session-outside-during",
        "missing-env-variable",
        "empty-site-list",
    }
    assert required <= names
    assert all(expected_lines(p) for p in INVALID)


def test_it_has_a_broken_file_for_each_input_that_crashed_or_fooled_the_loader() -> None:
    names = {p.stem.removeprefix("invalid-") for p in INVALID}

    assert {
        "nested-too-deeply",
        "dotted-key-too-deep",
        "time-in-dst-gap",
        "ambiguous-local-time",
        "target-unspecified",
        "target-broadcast",
        "target-multicast",
        "long-key",
        "missing-env-variable-used-thrice",
    } <= names


def test_it_has_a_broken_file_for_each_snmp_mistake() -> None:
    names = {p.stem.removeprefix("invalid-") for p in INVALID}

    assert {
        "snmp-interval-too-short",
        "snmp-session-interval-above-interval",
        "device-timeout-does-not-fit",
        "interface-not-watched",
        "device-owner-collision",
        "bad-power-low-minutes",
    } <= names


def test_it_has_a_broken_file_for_each_judging_mistake() -> None:
    names = {p.stem.removeprefix("invalid-") for p in INVALID}

    assert {
        "bad-severity-name",
        "severity-unknown-kind",
        "severity-unknown-phase",
        "readiness-not-a-duration",
        "control-outside-lab",
        "control-lab-reserved",
        "blind-share-zero",
        "quality-clear-without-hysteresis",
        "powered-by-not-a-ups",
    } <= names


@pytest.mark.parametrize("path", INVALID, ids=lambda p: p.stem)
def test_it_reports_exactly_the_expected_problems(path: Path) -> None:
    assert problem_lines(path, {"EXAMNET_TEST_PRIV": SECRETS["EXAMNET_TEST_PRIV"]}) == (
        expected_lines(path)
    )


@pytest.mark.parametrize("path", INVALID, ids=lambda p: p.stem)
def test_it_exits_2_and_prints_the_problems_on_stderr(
    path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """`examnet check` in this process (its `main`), for speed; the one below runs it
    as a program, as a person does."""
    from monitor.cli import main  # noqa: PLC0415 - the command line, in this process

    for name in list(os.environ):
        if name.startswith(("EXAMNET_TEST_", "EXAMNET_SNMP_")):
            monkeypatch.delenv(name)
    monkeypatch.setenv("EXAMNET_TEST_PRIV", SECRETS["EXAMNET_TEST_PRIV"])
    monkeypatch.chdir(REPO)

    code = main(["check", str(path)])

    expected = expected_lines(path)
    count = len(expected)
    captured = capsys.readouterr()
    assert code == 2
    assert captured.out == ""
    header = f"{count} problem{'' if count == 1 else 's'} in {path}:"
    assert captured.err.splitlines() == [header, *expected]


def test_the_check_program_exits_2_and_prints_every_problem_on_stderr() -> None:
    path = DATA / "invalid" / "invalid-several-mistakes.toml"
    result = run_check(str(path))

    expected = expected_lines(path)
    assert result.returncode == 2
    assert result.stdout == ""
    assert result.stderr.splitlines() == [f"{len(expected)} problems in {path}:", *expected]


def test_it_reports_every_problem_of_a_file_in_one_error() -> None:
    path = DATA / "invalid" / "invalid-several-mistakes.toml"

    with pytest.raises(ConfigError) as caught:
        load_inventory(path, {})

    error = caught.value
    assert len(error.problems) == 7
    assert str(error).splitlines()[0] == f"7 problems in {path}:"
    fields = {p.field for p in error.problems}
    assert {"plan.name", "probe.count", "kind", "upstream", "coordinates", "colour"} <= fields


def test_it_reports_a_file_it_cannot_read(tmp_path: Path) -> None:
    path = tmp_path / "absent.toml"

    assert problem_lines(path, {}) == [f"{path}: cannot read: No such file or directory"]


def test_it_renders_problem_lines_with_item_and_field_only_when_known() -> None:
    assert str(Problem("f.toml", None, "plan.name", "is required")) == (
        'f.toml: field "plan.name": is required'
    )
    assert str(Problem("f.toml", 'site "a" link "b"', "kind", "expected x")) == (
        'f.toml: site "a" link "b": field "kind": expected x'
    )
    assert str(Problem("f.toml", None, None, "cannot read: gone")) == "f.toml: cannot read: gone"


def test_it_suggests_the_closest_key_for_a_misspelt_one(tmp_path: Path) -> None:
    path = write_config(tmp_path, top='\n[probe]\nsesion_interval = "5s"\n')

    assert problem_lines(path, {}) == [
        f'{path}: field "probe.sesion_interval": unknown key; did you mean "session_interval"?'
    ]


def test_it_refuses_unknown_keys_in_inline_tables(tmp_path: Path) -> None:
    path = with_device(tmp_path, '{ version = "2c", community = "${C}", user = "x" }')

    assert problem_lines(path, {"C": "community-x"}) == [
        f'{path}: site "thpt-viet-bac" device "router": field "snmp.user": unknown key; '
        'expected one of "community", "version"'
    ]


# --------------------------------------------------------------------------
# the shipped file


def test_it_loads_the_shipped_sites_toml() -> None:
    inventory = shipped()

    assert 10 <= len(inventory.sites) <= 14
    assert {site.district for site in inventory.sites} == LANG_SON_DISTRICTS
    assert {c.id for c in inventory.carriers} == {"viettel", "vnpt", "mobifone"}
    assert inventory.plan.timezone.key == "Asia/Ho_Chi_Minh"
    assert inventory.lab is not None
    assert str(inventory.lab.network) == "10.77.0.0/16"
    assert inventory.warnings == tuple(f"{SHIPPED}: {w}" for w in SHIPPED_WARNINGS)
    for site in inventory.sites:
        assert 2 <= len(site.links) <= 3
        assert len({link.carrier for link in site.links}) == len(site.links)
    assert [s.name for s in inventory.calendar.sessions] == [
        "Ngữ văn",
        "Toán",
        "Tiếng Anh",
        "Môn chuyên",
    ]


def test_it_ships_mobile_bts_links_that_exist_only_around_the_exam() -> None:
    inventory = shipped()
    during = inventory.calendar.during

    windows = [link for link in inventory.links() if link.active is not None]

    assert windows
    for link in windows:
        assert link.kind == "bts"
        assert link.upstream == "mobifone-bts-lson"
        assert link.active is not None
        assert link.active.start <= during.start
        assert link.active.end >= during.end


def test_it_checks_the_shipped_file_from_the_command_line() -> None:
    result = run_check("sites.toml", env=SHIPPED_SECRETS)

    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0].startswith('sites.toml: OK — plan "')
    assert lines[0].endswith("(Asia/Ho_Chi_Minh)")
    assert (
        lines[1]
        == "12 sites, 32 links (2 with an active window), 8 endpoints, 17 devices, 3 carriers"
    )
    assert "2027-06-03  07:30-09:30  Ngữ văn" in result.stdout
    assert 'lab: network 10.77.0.0/16, prefix "exn"' in result.stdout
    assert lines[-3:] == ["warnings: 2", *(f"  sites.toml: {w}" for w in SHIPPED_WARNINGS)]
    for value in SHIPPED_SECRETS.values():
        assert value not in result.stdout + result.stderr


def test_it_names_every_variable_the_shipped_file_needs() -> None:
    assert referenced_variables(SHIPPED) == frozenset(SHIPPED_SECRETS)


def test_it_refuses_the_shipped_file_without_its_secrets() -> None:
    result = run_check("sites.toml")

    assert result.returncode == 2
    assert 'environment variable "EXAMNET_SNMP_COMMUNITY" is not set' in result.stderr


def missing_variable_lines(stderr: str) -> dict[str, list[str]]:
    """The problem lines of stderr that name each shipped variable as not set."""
    return {
        name: [line for line in stderr.splitlines() if f'variable "{name}" is not set' in line]
        for name in SHIPPED_SECRETS
    }


def test_it_names_each_missing_variable_of_the_shipped_file_once() -> None:
    result = run_check("sites.toml")

    assert result.returncode == 2
    assert result.stdout == ""
    lines = result.stderr.splitlines()
    assert lines[0] == "3 problems in sites.toml:"
    assert lines[1] == (
        'sites.toml: endpoint "mobifone-bts-lson" device "controller": field "snmp.community": '
        'environment variable "EXAMNET_SNMP_COMMUNITY" is not set '
        '(nor "EXAMNET_SNMP_COMMUNITY_FILE"); 13 other fields use it too'
    )
    assert all(len(found) == 1 for found in missing_variable_lines(result.stderr).values())
    assert lines[-1].startswith("hint: sites.toml describes a lab; examnet lab up generates")


def test_run_names_each_missing_variable_once_and_starts_nothing(tmp_path: Path) -> None:
    # the shipped file under a lab prefix nobody brings up: no generated values to find,
    # and the lab guard would refuse to start on it anyway
    path = tmp_path / "sites.toml"
    path.write_text(
        SHIPPED.read_text(encoding="utf-8").replace('prefix = "exn"', 'prefix = "exq"'),
        encoding="utf-8",
    )
    result = subprocess.run(
        [sys.executable, "-m", "monitor", "run", "--config", str(path), "--db", "sqlite://"],
        capture_output=True,
        text=True,
        encoding="utf-8",
        env=cli_env(),
        cwd=REPO,
        check=False,
        timeout=60,
    )

    assert result.returncode == 2
    assert result.stderr.splitlines()[0] == f"3 problems in {path}:"
    assert all(len(found) == 1 for found in missing_variable_lines(result.stderr).values())


def test_it_ships_a_router_per_site_watching_every_link() -> None:
    for site in shipped().sites:
        router = next(d for d in site.devices if d.id == "router")
        watched = {w.name: w.capacity_bps for w in router.interfaces}
        assert router.address == site.links[0].address
        assert watched == {link.id: SHIPPED_CAPACITY[link.kind] for link in site.links}
        for link in site.links:
            assert link.interface == InterfaceRef(device="router", name=link.id)
            assert len(link.id) <= 15  # IFNAMSIZ - 1: the lab names an interface after it


def test_it_ships_v3_routers_ups_and_a_bts_controller() -> None:
    inventory = shipped()
    devices = list(inventory.devices())

    v3 = [d for d in devices if isinstance(d.credentials, SnmpV3)]
    assert len(v3) == 3
    for d in v3:
        assert isinstance(d.credentials, SnmpV3)
        assert (d.credentials.auth_protocol, d.credentials.priv_protocol) == ("sha256", "aes")
    ups = [d for d in devices if d.ups]
    assert len(ups) == 4
    assert all(d.interfaces == () and d.address.endswith(".10") for d in ups)
    (controller,) = next(e for e in inventory.endpoints if e.devices).devices
    assert controller.key == "device:mobifone-bts-lson/controller"
    assert [(o.name, o.unit, o.warn, o.crit) for o in controller.oids] == [
        ("cell_load", "%", 80.0, 95.0)
    ]
    assert inventory.snmp == SnmpSettings()


# --------------------------------------------------------------------------
# what a valid file becomes


def test_it_resolves_thresholds_from_defaults_then_site_then_link() -> None:
    inventory = full()
    links = {link.key: link for link in inventory.links()}

    top = Thresholds(rtt_warn_ms=100.0, congestion_sustain=90.0)
    site = Thresholds(
        rtt_warn_ms=100.0,
        rtt_crit_ms=300.0,
        loss_warn=0.1,
        congestion_sustain=90.0,
        power_low_minutes=20,
    )
    assert inventory.thresholds == top
    assert links["thpt-dinh-lap/vnpt-bts"].thresholds == site
    assert links["thpt-dinh-lap/viettel-fibre"].thresholds == Thresholds(
        rtt_warn_ms=100.0,
        rtt_crit_ms=300.0,
        loss_warn=0.1,
        jitter_warn_ms=40.0,
        congestion_sustain=90.0,
        congestion_hold=30.0,
        power_low_minutes=20,
    )
    assert links["thpt-bac-son/vnpt-fibre"].thresholds == top
    assert [site.thresholds for site in inventory.sites] == [site, top]
    assert top.loss_crit == DEFAULT_LOSS_CRIT
    assert (top.congestion_hold, top.power_low_minutes) == (
        DEFAULT_CONGESTION_HOLD,
        DEFAULT_POWER_LOW_MINUTES,
    )


def test_it_gives_endpoints_the_file_wide_thresholds() -> None:
    inventory = full()

    endpoint_targets = [t for t in inventory.targets() if t.endpoint and not t.link]

    assert {t.thresholds.rtt_warn_ms for t in endpoint_targets} == {100.0}


def test_it_uses_the_named_defaults_when_sections_are_left_out(tmp_path: Path) -> None:
    inventory = load_inventory(write_config(tmp_path), {})

    assert inventory.thresholds == Thresholds()
    assert inventory.thresholds.rtt_warn_ms == DEFAULT_RTT_WARN_MS
    assert inventory.thresholds.congestion_sustain == DEFAULT_CONGESTION_SUSTAIN == 60.0
    assert inventory.snmp == SnmpSettings(
        DEFAULT_SNMP_INTERVAL, DEFAULT_SNMP_SESSION_INTERVAL, DEFAULT_SNMP_MAX_CONCURRENCY
    )
    assert (inventory.snmp.interval, inventory.snmp.session_interval) == (60.0, 30.0)
    assert inventory.probe.round_budget < inventory.probe.session_interval
    assert inventory.lab is None
    assert inventory.calendar.before is None
    assert inventory.sites[0].min_carriers == 1


def test_it_reads_local_times_in_the_plan_timezone_and_converts_offsets() -> None:
    calendar = full().calendar

    first, second = calendar.sessions
    assert first.name == "Ngữ văn"  # sorted by start, whatever the file order
    assert first.start == datetime.fromisoformat("2027-06-03T07:30:00+07:00")
    assert first.start.utcoffset() == timedelta(hours=7)
    assert str(first.start.tzinfo) == "Asia/Ho_Chi_Minh"
    assert second.start.hour == 14
    assert calendar.during.contains(first.start)


def test_it_reads_probe_settings_in_seconds() -> None:
    probe = full().probe

    assert (probe.count, probe.echo_interval, probe.timeout) == (3, 0.1, 0.5)
    assert (probe.interval, probe.session_interval, probe.payload_size) == (20.0, 5.0, 64)


def test_it_reads_devices_interfaces_and_oids() -> None:
    site = full().sites[0]
    router, ups = site.devices

    assert isinstance(router.credentials, SnmpV3)
    assert router.credentials.user == "examnet"
    assert router.credentials.auth_protocol == "sha256"
    assert router.credentials.priv_protocol == "aes"
    assert router.credentials.auth_key is not None
    assert router.credentials.auth_key.reveal() == SECRETS["EXAMNET_TEST_AUTH"]
    assert (router.port, router.timeout, router.retries) == (DEFAULT_SNMP_PORT, 3.0, 2)
    assert [(i.name, i.index, i.capacity_bps) for i in router.interfaces] == [
        ("eth1", None, 100_000_000),
        (None, 3, 512_000),
    ]
    assert router.site == "thpt-dinh-lap"
    assert isinstance(ups.credentials, SnmpV2c)
    assert ups.credentials.community.reveal() == SECRETS["EXAMNET_TEST_COMMUNITY"]
    assert ups.ups is True
    assert (ups.port, ups.timeout, ups.retries) == (
        1161,
        DEFAULT_SNMP_TIMEOUT,
        DEFAULT_SNMP_RETRIES,
    )
    assert [(o.name, o.oid, o.unit, o.warn, o.crit) for o in ups.oids] == [
        ("battery-minutes", "1.3.6.1.2.1.33.1.2.3.0", "min", 20.0, 10.0),
        ("input-voltage", "1.3.6.1.2.1.33.1.3.3.1.3.1", "V", None, None),
    ]


def test_it_ties_links_to_device_interfaces_by_name_or_index() -> None:
    fibre, bts = full().sites[0].links

    assert fibre.interface == InterfaceRef(device="router", name="eth1")
    assert bts.interface == InterfaceRef(device="router", index=3)
    assert bts.active is not None
    assert bts.active.start.isoformat() == "2027-06-02T00:00:00+07:00"


def test_it_reads_the_snmp_section_in_seconds() -> None:
    assert full().snmp == SnmpSettings(interval=120.0, session_interval=20.0, max_concurrency=50)


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ("max_concurrency = 0", "expected an integer from 1 to 1000, got 0"),
        ("max_concurrency = 1001", "expected an integer from 1 to 1000, got 1001"),
        ('session_interval = "4s"', 'expected a duration of at least 5s, got "4s"'),
    ],
)
def test_it_bounds_the_snmp_settings(tmp_path: Path, line: str, message: str) -> None:
    path = write_config(tmp_path, top=f"\n[snmp]\n{line}\n")

    (problem,) = problem_lines(path, {})

    assert problem == f'{path}: field "snmp.{line.split(maxsplit=1)[0]}": {message}'


def test_it_reads_endpoint_devices_with_the_site_device_schema() -> None:
    inventory = full()
    gateway = next(e for e in inventory.endpoints if e.id == "vnpt-gw-lson")

    controller, ups = gateway.devices
    assert (controller.endpoint, controller.site) == ("vnpt-gw-lson", None)
    assert isinstance(controller.credentials, SnmpV2c)
    assert controller.credentials.community.reveal() == SECRETS["EXAMNET_TEST_COMMUNITY"]
    assert [(o.name, o.oid, o.unit, o.warn, o.crit) for o in controller.oids] == [
        ("cpu_load", "1.3.6.1.4.1.55555.1.2.0", "%", 80.0, 95.0)
    ]
    assert ups.ups is True
    assert next(e for e in inventory.endpoints if e.id == "viettel-gw-lson").devices == ()


def test_it_lists_site_devices_then_endpoint_devices_by_key() -> None:
    assert [d.key for d in full().devices()] == [
        "device:thpt-dinh-lap/router",
        "device:thpt-dinh-lap/ups",
        "device:vnpt-gw-lson/gw",
        "device:vnpt-gw-lson/ups",
    ]


def test_it_accepts_a_link_interface_watched_by_index(tmp_path: Path) -> None:
    site = DEVICE.format(snmp='{ version = "2c", community = "${C}" }')
    site += "interfaces = [{ index = 7 }]\n"
    path = write_config(tmp_path, site=site)
    path.write_text(path.read_text() + 'interface = { device = "router", index = 7 }\n')

    (link,) = load_inventory(path, {"C": "community-x"}).links()

    assert link.interface == InterfaceRef(device="router", index=7)


def test_it_refuses_a_link_interface_watched_only_under_another_form(tmp_path: Path) -> None:
    site = DEVICE.format(snmp='{ version = "2c", community = "${C}" }')
    site += 'interfaces = [{ name = "eth1" }]\n'
    path = write_config(tmp_path, site=site)
    path.write_text(path.read_text() + 'interface = { device = "router", index = 7 }\n')

    assert problem_lines(path, {"C": "community-x"}) == [
        f'{path}: site "thpt-viet-bac" link "viettel-fibre": field "interface.index": '
        'device "router" does not watch interface 7 (watched: "eth1")'
    ]


def test_it_refuses_a_site_device_still_retrying_when_its_next_poll_is_due(
    tmp_path: Path,
) -> None:
    site = DEVICE.format(snmp='{ version = "2c", community = "${C}" }') + 'timeout = "15s"\n'
    path = write_config(tmp_path, site=site)

    assert problem_lines(path, {"C": "community-x"}) == [
        f'{path}: site "thpt-viet-bac" device "router": field "timeout": an unanswered request '
        "takes up to 30s (timeout 15s x (retries 1 + 1)), expected less than "
        "snmp.session_interval (30s)"
    ]


def test_it_names_only_real_references_and_keeps_double_dollar_literal(tmp_path: Path) -> None:
    path = write_config(
        tmp_path,
        plan_name="${EXAMNET_TEST_A} $${EXAMNET_TEST_LITERAL} $$${EXAMNET_TEST_ALSO_LITERAL}",
        top=f"# ${{{NEVER_SET}}}\n",
        site=DEVICE.format(snmp='{ version = "2c", community = "${EXAMNET_TEST_C}" }'),
    )

    assert referenced_variables(path) == {"EXAMNET_TEST_A", "EXAMNET_TEST_C"}


def test_it_raises_the_usual_error_when_variables_are_asked_of_a_broken_file() -> None:
    path = DATA / "invalid" / "invalid-syntax-error.toml"

    with pytest.raises(ConfigError) as caught:
        referenced_variables(path)

    assert [str(p) for p in caught.value.problems] == expected_lines(path)


# --------------------------------------------------------------------------
# ${NAME}, NAME_FILE and $${


def test_it_replaces_a_name_from_the_environment(tmp_path: Path) -> None:
    path = write_config(tmp_path, plan_name="Plan of ${EXAMNET_TEST_PROVINCE}")

    inventory = load_inventory(path, {"EXAMNET_TEST_PROVINCE": "Lạng Sơn"})

    assert inventory.plan.name == "Plan of Lạng Sơn"


def test_it_reads_name_file_when_name_is_unset(tmp_path: Path) -> None:
    secret_file = tmp_path / "community"
    secret_file.write_text("from-a-file-1234\n", encoding="utf-8")
    path = with_device(tmp_path, '{ version = "2c", community = "${EXAMNET_TEST_C}" }')

    inventory = load_inventory(path, {"EXAMNET_TEST_C_FILE": str(secret_file)})

    credentials = inventory.sites[0].devices[0].credentials
    assert isinstance(credentials, SnmpV2c)
    assert credentials.community.reveal() == "from-a-file-1234"
    assert inventory.warnings == ()


def test_it_prefers_name_over_name_file(tmp_path: Path) -> None:
    path = write_config(tmp_path, plan_name="${EXAMNET_TEST_N}")

    inventory = load_inventory(
        path, {"EXAMNET_TEST_N": "from env", "EXAMNET_TEST_N_FILE": str(tmp_path / "absent")}
    )

    assert inventory.plan.name == "from env"


def test_it_reports_a_name_file_it_cannot_read(tmp_path: Path) -> None:
    path = write_config(tmp_path, plan_name="${EXAMNET_TEST_N}")
    absent = tmp_path / "absent"

    assert problem_lines(path, {"EXAMNET_TEST_N_FILE": str(absent)}) == [
        f'{path}: field "plan.name": cannot read the file named by "EXAMNET_TEST_N_FILE" '
        f"({absent}): No such file or directory"
    ]


def name_file_problem(path: Path, named: Path | str, reason: str) -> str:
    return (
        f'{path}: field "plan.name": cannot read the file named by "EXAMNET_TEST_N_FILE" '
        f"({named}): {reason}"
    )


# `examnet check` with at most 2 GiB of address space: a loader that reads /dev/zero
# fails with MemoryError instead of taking the machine's memory, one that waits on
# a FIFO fails by timing out
BOUNDED_CHECK = (
    "import resource, runpy; resource.setrlimit(resource.RLIMIT_AS, (2 << 30, 2 << 30)); "
    "runpy.run_module('monitor', run_name='__main__')"
)


def run_bounded_check(path: Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", BOUNDED_CHECK, "check", str(path)],
        capture_output=True,
        text=True,
        encoding="utf-8",
        env=cli_env(env),
        cwd=REPO,
        check=False,
        timeout=60,
    )


@pytest.mark.parametrize(
    ("named", "kind"), [("/dev/zero", "a character device"), ("secret.fifo", "a FIFO")]
)
def test_it_refuses_a_name_file_that_is_not_a_regular_file_without_reading_it(
    tmp_path: Path, named: str, kind: str
) -> None:
    path = write_config(tmp_path, plan_name="${EXAMNET_TEST_N}")
    secret = tmp_path / named
    if named.endswith(".fifo"):
        os.mkfifo(secret)  # nobody ever writes to it

    result = run_bounded_check(path, {"EXAMNET_TEST_N_FILE": str(secret)})

    assert result.returncode == 2
    assert result.stderr.splitlines()[1:] == [
        name_file_problem(path, secret, f"not a regular file ({kind})")
    ]


def test_it_refuses_a_name_file_larger_than_a_secret_can_be(tmp_path: Path) -> None:
    path = write_config(tmp_path, plan_name="${EXAMNET_TEST_N}")
    big = tmp_path / "big"
    big.write_bytes(b"x" * (64 * 1024 + 1))
    exact = tmp_path / "exact"
    exact.write_bytes(b"y" * (64 * 1024) + b"\n")

    assert problem_lines(path, {"EXAMNET_TEST_N_FILE": str(big)}) == [
        name_file_problem(path, big, "larger than 64 KiB")
    ]
    assert problem_lines(path, {"EXAMNET_TEST_N_FILE": str(exact)}) == [
        name_file_problem(path, exact, "larger than 64 KiB")  # the newline counts too
    ]


def test_it_refuses_a_config_file_that_is_not_a_regular_file(tmp_path: Path) -> None:
    fifo = tmp_path / "sites.fifo"
    os.mkfifo(fifo)

    zero = run_bounded_check(Path("/dev/zero"), {})
    waiting = run_bounded_check(fifo, {})

    assert (zero.returncode, waiting.returncode) == (2, 2)
    assert zero.stderr.splitlines()[1:] == [
        "/dev/zero: cannot read: not a regular file (a character device)"
    ]
    assert waiting.stderr.splitlines()[1:] == [f"{fifo}: cannot read: not a regular file (a FIFO)"]
    assert problem_lines(tmp_path, {}) == [
        f"{tmp_path}: cannot read: not a regular file (a directory)"
    ]


def test_it_keeps_double_dollar_brace_as_a_literal(tmp_path: Path) -> None:
    path = write_config(tmp_path, plan_name="costs $${X} and ${EXAMNET_TEST_A} $ 5")

    inventory = load_inventory(path, {"EXAMNET_TEST_A": "a"})

    assert inventory.plan.name == "costs ${X} and a $ 5"
    assert full().carriers[0].contact == "noc@viettel.example.invalid, desk ${EXT}"


def test_it_substitutes_parsed_values_only_once(tmp_path: Path) -> None:
    path = write_config(tmp_path, plan_name="${EXAMNET_TEST_A}", top=f"# ${{{NEVER_SET}}}\n")

    inventory = load_inventory(path, {"EXAMNET_TEST_A": "${EXAMNET_TEST_B}"})

    assert inventory.plan.name == "${EXAMNET_TEST_B}"


def test_it_substitutes_in_any_string_value(tmp_path: Path) -> None:
    path = write_config(tmp_path, top='\n[probe]\ninterval = "${EXAMNET_TEST_I}"\n')

    assert load_inventory(path, {"EXAMNET_TEST_I": "45s"}).probe.interval == 45.0


def test_it_reports_a_malformed_reference(tmp_path: Path) -> None:
    path = write_config(tmp_path, plan_name="${not-a-name}")

    assert problem_lines(path, {}) == [
        f'{path}: field "plan.name": expected ${{NAME}} with NAME of letters, digits and "_" '
        '(write "$${" for a literal "${")'
    ]


def test_expand_names_every_missing_variable_without_values() -> None:
    with pytest.raises(BadValueError, match=f'"{NEVER_SET}" is not set'):
        expand(f"${{{NEVER_SET}}}", {})
    assert expand("a${X}b", {"X": "1"}) == ("a1b", True)
    assert expand("$${X}", {}) == ("${X}", False)


# --------------------------------------------------------------------------
# secrets


def test_it_never_shows_a_secret_in_the_inventory_or_its_summary() -> None:
    inventory = full()

    shown = "\n".join([str(inventory), repr(inventory), summarize(inventory)])
    shown += "\n".join(repr(d) for d in inventory.devices())

    assert "<secret>" in shown
    for value in SECRETS.values():
        assert value not in shown


@pytest.mark.parametrize(
    "snmp",
    [
        '{ version = "3", user = "u", auth_protocol = "sha", auth_key = "${EXAMNET_TEST_K}" }',
        '{ version = "3", user = "u", auth_protocol = "sha", auth_key = "tiny-7" }',
        '{ version = "3", user = "u", auth_protocol = "sha", auth_key = "${EXAMNET_TEST_K}", '
        'priv_key = "tiny-7" }',
        '{ version = "2c", community = 1234567 }',
        '{ version = "2c", community = "tiny-7", extra = "x" }',
    ],
)
def test_it_never_shows_a_secret_in_a_problem(tmp_path: Path, snmp: str) -> None:
    path = with_device(tmp_path, snmp)

    with pytest.raises(ConfigError) as caught:
        load_inventory(path, {"EXAMNET_TEST_K": "tiny-7"})

    assert "tiny-7" not in str(caught.value)
    assert "1234567" not in str(caught.value)
    assert "tiny-7" not in repr(caught.value.problems)


def test_it_warns_about_a_secret_written_in_the_file(tmp_path: Path) -> None:
    path = with_device(tmp_path, '{ version = "2c", community = "written-here-99" }')

    inventory = load_inventory(path, {})

    warning = (
        f'{path}: site "thpt-viet-bac" device "router": field "snmp.community": '
        "secret written in the file; use ${NAME}"
    )
    assert inventory.warnings == (warning,)
    assert warning in summarize(inventory)
    assert "written-here-99" not in summarize(inventory)


def test_it_accepts_snmpv3_without_privacy(tmp_path: Path) -> None:
    path = with_device(
        tmp_path, '{ version = "3", user = "u", auth_protocol = "sha512", auth_key = "${K}" }'
    )

    credentials = load_inventory(path, {"K": "long-enough"}).sites[0].devices[0].credentials

    assert isinstance(credentials, SnmpV3)
    assert (credentials.user, credentials.auth_protocol) == ("u", "sha512")
    assert credentials.auth_key is not None
    assert credentials.auth_key.reveal() == "long-enough"
    assert credentials.priv_protocol is None
    assert credentials.priv_key is None


# --------------------------------------------------------------------------
# values


@pytest.mark.parametrize(
    ("text", "seconds"),
    [("250ms", 0.25), ("1.5s", 1.5), ("2m", 120.0), ("1h", 3600.0), ("30s", 30.0)],
)
def test_it_reads_durations(text: str, seconds: float) -> None:
    assert duration()(text) == seconds


@pytest.mark.parametrize("value", [12, "12", "1.5 s", "-1s", "0s", "1d", "", True, "1s "])
def test_it_refuses_malformed_durations(value: object) -> None:
    with pytest.raises(BadValueError, match="expected a duration"):
        duration()(value)


def test_it_enforces_a_duration_floor() -> None:
    with pytest.raises(BadValueError, match='at least 1s, got "500ms"'):
        duration(minimum=1.0)("500ms")


@pytest.mark.parametrize(
    ("text", "bps"),
    [
        ("512kbit", 512_000),
        ("100Mbit", 100_000_000),
        ("1Gbit", 1_000_000_000),
        ("2.5mbit", 2_500_000),
    ],
)
def test_it_reads_capacities_in_bits_per_second(text: str, bps: int) -> None:
    assert capacity(text) == bps


@pytest.mark.parametrize("value", ["100MB", "100", 100, "0kbit", "fast"])
def test_it_refuses_malformed_capacities(value: object) -> None:
    with pytest.raises(BadValueError, match="expected a capacity"):
        capacity(value)


@pytest.mark.parametrize(
    "value", ["10.77.1.1", "2001:db8::1", "gw.viettel.example.invalid", "router-1", "fe80::1%eth0"]
)
def test_it_accepts_ip_literals_and_host_names_without_resolving(value: str) -> None:
    assert address(value) == value


@pytest.mark.parametrize(
    "value", ["10.77.1.300", "10.77.1", "-gw.example", "a..b", "", "gw_1.example", "a" * 64, 7]
)
def test_it_refuses_malformed_addresses(value: object) -> None:
    with pytest.raises(BadValueError, match="expected an IPv4 or IPv6 address or a host name"):
        address(value)


# --------------------------------------------------------------------------
# summary


def test_it_summarises_carriers_calendar_and_lab() -> None:
    text = summarize(full())
    lines = text.splitlines()

    assert lines[0] == f'{DATA / "valid-full.toml"}: OK — plan "Full example" (Asia/Ho_Chi_Minh)'
    assert lines[1].startswith("2 sites, 3 links (1 with an active window), 2 endpoints, 4 devices")
    assert lines[3] == (
        "snmp: a poll of each device every 120s, every 20s during exam sessions; at most 50 at once"
    )
    assert re.search(r"viettel\s+Viettel\s+1\s+1\s+1$", text, re.MULTILINE)
    assert re.search(r"vnpt\s+VNPT\s+2\s+1\s+2$", text, re.MULTILINE)
    assert "  during  2027-06-03 00:00 to 2027-06-06 00:00" in lines
    assert "    2027-06-03  07:30-09:30  Ngữ văn" in lines
    assert 'lab: network 10.77.0.0/16, prefix "exn"' in lines
    assert lines[-1] == "warnings: none"


def test_it_loads_the_minimal_file_of_the_reference_page(tmp_path: Path) -> None:
    page = (REPO / "docs" / "sites-toml.md").read_text(encoding="utf-8")
    minimal = page.split("## A minimal file", 1)[1].split("```toml\n", 1)[1].split("```", 1)[0]
    path = tmp_path / "sites.toml"
    path.write_text(minimal, encoding="utf-8")

    inventory = load_inventory(path, {})

    assert [link.key for link in inventory.links()] == ["thpt-viet-bac/viettel-fibre"]
    assert inventory.warnings == ()


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("10.77.0.0", "expected a host address, got the network address of 10.77.0.0/16"),
        ("10.77.255.255", "expected an address outside 10.77.255.0/24, which the lab keeps"),
        ("gw.example.invalid", 'inside the lab network 10.77.0.0/16, got "gw.example.invalid"'),
        ("fd00::1", 'inside the lab network 10.77.0.0/16, got "fd00::1"'),
    ],
)
def test_it_keeps_every_address_inside_the_lab_network(
    tmp_path: Path, value: str, message: str
) -> None:
    path = write_config(tmp_path, top='\n[lab]\nnetwork = "10.77.0.0/16"\nprefix = "exn"\n')
    path.write_text(path.read_text().replace('"10.77.11.1"', f'"{value}"'))

    (line,) = problem_lines(path, {})

    assert line.startswith(f'{path}: site "thpt-viet-bac" link "viettel-fibre": field "address": ')
    assert message in line


DOCS = REPO / "docs" / "sites-toml.md"


@pytest.mark.parametrize(
    ("row", "enum"),
    [
        ("| `kind` | string | required | one of `gateway`", EndpointKind),
        ("| `kind` | string | required | one of `fibre`", LinkKind),
        ("| `auth_protocol` |", AuthProtocol),
        ("| `priv_protocol` |", PrivProtocol),
    ],
)
def test_it_documents_exactly_the_values_the_loader_accepts(row: str, enum: type[StrEnum]) -> None:
    [line] = [
        line for line in DOCS.read_text(encoding="utf-8").splitlines() if line.startswith(row)
    ]
    values = line.split("|")[4 if "string" in row else 2]
    assert re.findall(r"`([a-z0-9-]+)`", values) == [m.value for m in enum]


# --------------------------------------------------------------------------
# severities, readiness, the monitor's own network


def test_it_ranks_severities_and_raises_them_one_step_capped_at_critical() -> None:
    assert [s.rank for s in SEVERITY_ORDER] == [0, 1, 2]
    assert SEVERITY_ORDER == (Severity.INFO, Severity.WARNING, Severity.CRITICAL)
    assert Severity.INFO.raised() is Severity.WARNING
    assert Severity.WARNING.raised() is Severity.CRITICAL
    assert Severity.CRITICAL.raised() is Severity.CRITICAL
    assert worst_severity([Severity.WARNING, Severity.CRITICAL, Severity.INFO]) is Severity.CRITICAL
    assert worst_severity([]) is Severity.INFO


def test_it_ranks_severities_written_as_text_by_the_same_order() -> None:
    assert [severity_rank(s) for s in ("info", "warning", "critical")] == [0, 1, 2]
    assert severity_rank("") == -1
    assert severity_rank("resolved") == -1


def test_it_uses_the_default_severity_table_when_the_section_is_left_out(tmp_path: Path) -> None:
    table = load_inventory(write_config(tmp_path), {}).severity

    assert table == DEFAULT_SEVERITY
    assert table.session_bump is True
    assert [row.kind for row in table.rows] == list(ConditionKind)
    assert table.at(ConditionKind.ISOLATED, Phase.BEFORE, in_session=False) == "warning"
    assert table.at(ConditionKind.ISOLATED, Phase.DURING, in_session=False) == "critical"
    assert table.at(ConditionKind.ISOLATED, Phase.OUTSIDE, in_session=False) == "info"
    assert table.at(ConditionKind.DOWN, Phase.DURING, in_session=False) == "warning"
    assert table.at(ConditionKind.BLIND, Phase.OUTSIDE, in_session=False) == "warning"


def test_it_raises_everything_one_step_during_a_session_capped_at_critical() -> None:
    table = DEFAULT_SEVERITY

    assert table.at(ConditionKind.DOWN, Phase.DURING, in_session=True) is Severity.CRITICAL
    assert table.at(ConditionKind.LOSS, Phase.BEFORE, in_session=True) is Severity.WARNING
    assert table.at(ConditionKind.ISOLATED, Phase.DURING, in_session=True) is Severity.CRITICAL


def test_it_overrides_severity_cells_and_keeps_the_others(tmp_path: Path) -> None:
    section = (
        "\n[severity]\nsession_bump = false\n"
        'isolated = { before = "critical", outside = "warning" }\n'
        'device_unreachable = "critical"\n'
    )
    table = load_inventory(write_config(tmp_path, top=section), {}).severity

    assert table.session_bump is False
    assert table.row(ConditionKind.ISOLATED) == SeverityRow(
        ConditionKind.ISOLATED,
        before=Severity.CRITICAL,
        during=Severity.CRITICAL,
        after=Severity.WARNING,
        outside=Severity.WARNING,
    )
    assert {table.row(ConditionKind.DEVICE_UNREACHABLE).at(p) for p in Phase} == {"critical"}
    assert table.row(ConditionKind.DOWN) == DEFAULT_SEVERITY.row(ConditionKind.DOWN)
    # without the bump, a session changes nothing
    assert table.at(ConditionKind.DOWN, Phase.DURING, in_session=True) is Severity.WARNING


def test_it_refuses_a_severity_table_that_misses_a_kind() -> None:
    with pytest.raises(ValueError, match="one row per ConditionKind"):
        SeverityTable(rows=DEFAULT_SEVERITY.rows[1:])


@pytest.mark.parametrize(
    ("section", "field", "message"),
    [
        ('isolated = "urgent"', "severity.isolated", 'expected one of "info", "warning", '),
        ("isolated = 3", "severity.isolated", "expected a table, got 3"),
        ('session_bump = "yes"', "severity.session_bump", 'expected true or false, got "yes"'),
        ("sesion_bump = true", "severity.sesion_bump", '(did you mean "session_bump"?)'),
    ],
)
def test_it_refuses_bad_severity_entries(
    tmp_path: Path, section: str, field: str, message: str
) -> None:
    path = write_config(tmp_path, top=f"\n[severity]\n{section}\n")

    (line,) = problem_lines(path, {})

    assert line.startswith(f'{path}: field "{field}": ')
    assert message in line


def test_it_ships_the_default_severity_table_commented_out(tmp_path: Path) -> None:
    text = SHIPPED.read_text(encoding="utf-8")
    block = text.split("# [severity]\n", 1)[1].split("\n\n", 1)[0]
    uncommented = "\n".join(line.removeprefix("# ") for line in block.splitlines())
    path = write_config(tmp_path, top=f"\n[severity]\n{uncommented}\n")

    assert "\n[severity]" not in text
    assert len(block.splitlines()) == 1 + len(ConditionKind)
    assert load_inventory(path, {}).severity == DEFAULT_SEVERITY


def test_it_documents_the_default_severity_table() -> None:
    page = DOCS.read_text(encoding="utf-8")
    table = page.split("## `[severity]`", 1)[1].split("\n\n| key |", 1)[0]
    rows = [line.split("|")[1:-1] for line in table.splitlines() if line.startswith("| `")]

    documented = [
        (cells[0].strip().strip("`"), *(cell.strip() for cell in cells[2:])) for cells in rows
    ]

    assert documented == [
        (row.kind.value, row.before.value, row.during.value, row.after.value, row.outside.value)
        for row in DEFAULT_SEVERITY.rows
    ]


def test_it_takes_readiness_snapshots_60_and_15_minutes_before_by_default(tmp_path: Path) -> None:
    assert DEFAULT_READINESS == (3600.0, 900.0)
    assert load_inventory(write_config(tmp_path), {}).readiness == DEFAULT_READINESS
    assert shipped().readiness == DEFAULT_READINESS


@pytest.mark.parametrize(
    ("before", "seconds"),
    [
        ('["5m", "2h", "30m"]', (7200.0, 1800.0, 300.0)),
        ('["90s"]', (90.0,)),
        ("[]", ()),
    ],
)
def test_it_reads_readiness_times_latest_first(
    tmp_path: Path, before: str, seconds: tuple[float, ...]
) -> None:
    path = write_config(tmp_path, top=f"\n[readiness]\nbefore = {before}\n")

    assert load_inventory(path, {}).readiness == seconds


@pytest.mark.parametrize(
    ("before", "field", "message"),
    [
        ('["25h"]', "before[0]", 'expected a duration under 24h, got "25h"'),
        ('["24h"]', "before[0]", 'expected a duration under 24h, got "24h"'),
        ('["0m"]', "before[0]", 'expected a duration above zero, got "0m"'),
        ('["1h", "60m"]', "before[1]", "1h is listed twice"),
        ('"60m"', "before", 'expected an array like ["60m", "15m"], got "60m"'),
    ],
)
def test_it_refuses_bad_readiness_times(
    tmp_path: Path, before: str, field: str, message: str
) -> None:
    path = write_config(tmp_path, top=f"\n[readiness]\nbefore = {before}\n")

    assert problem_lines(path, {}) == [f'{path}: field "readiness.{field}": {message}']


def test_it_has_no_control_target_by_default(tmp_path: Path) -> None:
    inventory = load_inventory(write_config(tmp_path), {})

    assert inventory.monitor == MonitorSettings(control=(), blind_share=DEFAULT_BLIND_SHARE)
    assert inventory.control_targets() == ()


def test_it_makes_control_targets_pinged_like_endpoints() -> None:
    inventory = shipped()

    (control,) = inventory.control_targets()

    assert inventory.monitor == MonitorSettings(control=("10.77.255.2",), blind_share=0.5)
    assert (control.key, control.kind, control.address) == (
        "control:10.77.255.2",
        TargetKind.CONTROL,
        "10.77.255.2",
    )
    assert (control.carrier, control.site, control.link, control.endpoint) == ("", None, None, None)
    assert control.thresholds == inventory.thresholds
    assert control.key not in {t.key for t in inventory.targets()}


@pytest.mark.parametrize("control", ["10.77.255.1", "10.77.255.2", "10.77.0.1"])
def test_it_allows_a_lab_control_on_the_monitor_transit_or_inside_the_lab(
    tmp_path: Path, control: str
) -> None:
    lab = '\n[lab]\nnetwork = "10.77.0.0/16"\nprefix = "exn"\n'
    path = write_config(tmp_path, top=f'\n[monitor]\ncontrol = ["{control}"]\n{lab}')

    assert load_inventory(path, {}).monitor.control == (control,)


@pytest.mark.parametrize(
    ("control", "field", "message"),
    [
        ('["10.77.255.0"]', "control[0]", "expected an address outside 10.77.255.0/24"),
        ('["10.77.255.3"]', "control[0]", 'such as the hub\'s 10.77.255.2), got "10.77.255.3"'),
        ('["10.77.0.1", "10.77.00.1"]', "control[1]", "expected an IPv4 or IPv6 address"),
        (
            '["10.77.0.1", "10.77.0.1"]',
            "control[1]",
            "10.77.0.1 is listed twice (as control[0] too)",
        ),
    ],
)
def test_it_refuses_bad_control_addresses(
    tmp_path: Path, control: str, field: str, message: str
) -> None:
    lab = '\n[lab]\nnetwork = "10.77.0.0/16"\nprefix = "exn"\n'
    path = write_config(tmp_path, top=f"\n[monitor]\ncontrol = {control}\n{lab}")

    (line,) = problem_lines(path, {})

    assert line.startswith(f'{path}: field "monitor.{field}": ')
    assert message in line


def test_it_accepts_any_control_address_without_a_lab(tmp_path: Path) -> None:
    path = write_config(
        tmp_path,
        top='\n[monitor]\ncontrol = ["gw.example.invalid", "192.0.2.1"]\nblind_share = 1\n',
    )

    monitor = load_inventory(path, {}).monitor

    assert monitor == MonitorSettings(control=("gw.example.invalid", "192.0.2.1"), blind_share=1.0)


# --------------------------------------------------------------------------
# quality, baseline and flapping thresholds; powered_by; fake redundancy


def test_it_gives_quality_baseline_and_flap_thresholds_their_defaults(tmp_path: Path) -> None:
    t = load_inventory(write_config(tmp_path), {}).thresholds

    assert (t.quality_window, t.quality_raise, t.quality_clear) == (5, 3, 4)
    assert (t.baseline_rounds, t.baseline_factor, t.baseline_min_delta_ms) == (60, 3.0, 5.0)
    assert (t.flap_changes, t.flap_window) == (5, 900.0)
    assert shipped().thresholds == Thresholds()


def test_it_inherits_quality_baseline_and_flap_thresholds(tmp_path: Path) -> None:
    top = (
        '\n[thresholds]\nquality_window = 8\nquality_clear = 6\nbaseline_min_delta = "2ms"\n'
        'flap_window = "5m"\n'
    )
    site = "\n[sites.thresholds]\nquality_raise = 5\nbaseline_factor = 2.5\n"
    path = write_config(tmp_path, top=top, site=site)
    path.write_text(path.read_text() + "\n[sites.links.thresholds]\nflap_changes = 3\n")

    inventory = load_inventory(path, {})
    (link,) = inventory.links()

    assert link.thresholds == Thresholds(
        quality_window=8,
        quality_raise=5,
        quality_clear=6,
        baseline_factor=2.5,
        baseline_min_delta_ms=2.0,
        flap_changes=3,
        flap_window=300.0,
    )
    assert inventory.thresholds.quality_raise == 3


@pytest.mark.parametrize(
    ("thresholds", "field", "message"),
    [
        (
            "quality_raise = 4",
            "quality_raise",
            "expected quality_clear > quality_window - quality_raise after inheritance, so that "
            "one window cannot both raise and clear, got quality_clear 1, quality_window 5 and "
            "quality_raise 4",
        ),
        (
            "quality_raise = 6",
            "quality_raise",
            "expected quality_raise <= quality_window after inheritance, got quality_raise 6 "
            "and quality_window 5",
        ),
        ("baseline_factor = 1", "baseline_factor", "expected a number above 1 and at most 100"),
        ("flap_changes = 1", "flap_changes", "expected an integer from 2 to 1000, got 1"),
        ("baseline_min_delta = 5", "baseline_min_delta", "expected a duration like"),
    ],
)
def test_it_refuses_quality_thresholds_that_do_not_fit_at_the_level_that_set_them(
    tmp_path: Path, thresholds: str, field: str, message: str
) -> None:
    top = "\n[thresholds]\nquality_clear = 1\nquality_raise = 5\n"
    path = write_config(tmp_path, top=top)
    path.write_text(path.read_text() + f"\n[sites.links.thresholds]\n{thresholds}\n")

    (line,) = problem_lines(path, {})

    assert line.startswith(
        f'{path}: site "thpt-viet-bac" link "viettel-fibre": field "thresholds.{field}": '
    )
    assert message in line


UPS_SITE = """
[[sites.devices]]
id = "ups"
address = "10.77.11.10"
snmp = { version = "2c", community = "${C}" }
ups = true
"""


def test_it_ties_a_link_to_the_ups_it_runs_on(tmp_path: Path) -> None:
    path = write_config(tmp_path, site=UPS_SITE)
    path.write_text(path.read_text() + 'powered_by = "ups"\n')

    (link,) = load_inventory(path, {"C": "community-x"}).links()

    assert link.powered_by == "ups"
    dinh_lap = next(s for s in shipped().sites if s.id == "thpt-dinh-lap")
    assert [link.powered_by for link in dinh_lap.links] == ["ups", None, None]


def test_it_refuses_a_link_powered_by_a_device_the_site_does_not_have(tmp_path: Path) -> None:
    path = write_config(tmp_path, site=UPS_SITE)
    path.write_text(path.read_text() + 'powered_by = "ups2"\n')

    assert problem_lines(path, {"C": "community-x"}) == [
        f'{path}: site "thpt-viet-bac" link "viettel-fibre": field "powered_by": '
        'no device "ups2" (known: ups)'
    ]


def test_it_warns_of_fake_redundancy_in_a_file_and_its_summary(tmp_path: Path) -> None:
    ups = UPS_SITE.replace("ups = true", 'ups = true\nvia = "viettel-fibre"')
    site = "min_carriers = 2\n" + ups
    path = write_config(tmp_path, site=site)
    text = path.read_text() + 'powered_by = "ups"\n'
    text += (
        '\n[[sites.links]]\nid = "vnpt-fibre"\ncarrier = "vnpt"\nkind = "fibre"\n'
        'address = "10.77.11.2"\npowered_by = "ups"\n'
        '\n[[carriers]]\nid = "vnpt"\nname = "VNPT"\n'
    )
    path.write_text(text)

    inventory = load_inventory(path, {"C": "community-x"})

    assert inventory.warnings == (
        f'{path}: site "thpt-viet-bac": links viettel-fibre (viettel) and vnpt-fibre (vnpt) both '
        'depend on UPS "ups": they count as one carrier for min_carriers',
        f'{path}: site "thpt-viet-bac": can never meet min_carriers = 2: its links form 1 '
        "independent group",
    )
    assert summarize(inventory).splitlines()[-3:] == [
        "warnings: 2",
        *(f"  {w}" for w in inventory.warnings),
    ]


def test_it_summarises_readiness_the_control_targets_and_severity(tmp_path: Path) -> None:
    section = '\n[severity]\nsession_bump = false\nblind = { outside = "info" }\n'
    custom = summarize(load_inventory(write_config(tmp_path, top=section), {})).splitlines()

    assert summarize(shipped()).splitlines()[4:7] == [
        "readiness: a snapshot 1h and 15m before each exam session",
        "monitor: control 10.77.255.2; BLIND when it fails together with at least 50% of the "
        "targets",
        "severity: the default table; one step higher during exam sessions",
    ]
    assert custom[5:7] == [
        "monitor: no control target, so examnet cannot tell when it is blind",
        "severity: the default table with 1 cell changed; unchanged during exam sessions",
    ]


# --------------------------------------------------------------------------
# hostile input: every one a problem line, none a crash, a hang or a screenful


def test_it_refuses_nesting_deeper_than_python_can_parse(tmp_path: Path) -> None:
    path = write_config(tmp_path, top="deep = " + "[" * 100_000 + "]" * 100_000 + "\n")

    assert problem_lines(path, {}) == [
        f"{path}: line 2, column 40: nested too deeply: examnet reads at most 32 levels of "
        "arrays, tables and dotted keys"
    ]


def test_it_refuses_a_dotted_key_of_many_parts_at_once(tmp_path: Path) -> None:
    path = write_config(tmp_path, top=".".join(["x"] * 10_000) + " = 1\n")

    assert problem_lines(path, {}) == [
        f"{path}: line 2, column 66: nested too deeply: examnet reads at most 32 levels of "
        "arrays, tables and dotted keys"
    ]


def test_it_reads_what_looks_like_nesting_inside_strings_and_comments(tmp_path: Path) -> None:
    deep = "[" * 40 + "." * 40 + "{" * 40  # in a string or a comment, none of it nests
    site = f"coordinates = [21.85, 106.76]  # {deep}\n"
    path = write_config(tmp_path, plan_name=f'{deep} \\" {deep}', site=site)
    text = path.read_text(encoding="utf-8").replace(
        'name = "Viettel"',
        f'name = \'\'\'{deep}\n{deep}\'\'\'\ncontact = """{deep}\\"""\n{deep}""""',
    )
    path.write_text(text, encoding="utf-8")

    inventory = load_inventory(path, {})

    assert inventory.plan.name == f'{deep} " {deep}'
    assert inventory.carriers[0].name == f"{deep}\n{deep}"
    assert inventory.carriers[0].contact == f'{deep}"""\n{deep}"'


def test_it_shows_a_long_key_or_id_by_its_start_and_length(tmp_path: Path) -> None:
    key = "k" * 200_000
    path = write_config(tmp_path, site=f"{key} = 1\n")
    path.write_text(
        path.read_text(encoding="utf-8").replace('id = "viettel-fibre"', f'id = "{key}"'),
        encoding="utf-8",
    )

    lines = problem_lines(path, {})

    shown = f"{'k' * 57}... (200000 characters)"
    assert all(len(line) < 500 for line in lines)
    assert f'field "{shown}": unknown key' in lines[1]
    assert lines[0] == (
        f'{path}: site "thpt-viet-bac" link "{shown}": field "id": expected an id of 1 to 40 '
        "lowercase letters, digits and '-', starting with a letter or digit, got "
        f'"{"k" * 57}..."'
    )


def test_it_escapes_control_characters_of_the_file_in_its_summary(tmp_path: Path) -> None:
    silence = """
[[silences]]
id = "maintenance"
matchers = ['carrier="viettel"']
start = 2027-06-01T22:00:00
end = 2027-06-02T02:00:00
by = "An"
comment = "splice\\u001b[2J\\u001b]0;owned\\u0007 done"
"""
    path = write_config(tmp_path)
    path.write_text(path.read_text(encoding="utf-8") + silence, encoding="utf-8")

    result = run_check(str(path))

    assert result.returncode == 0, result.stderr
    assert "\x1b" not in result.stdout
    assert "\x07" not in result.stdout
    assert "splice\\x1b[2J\\x1b]0;owned\\x07 done" in result.stdout


def test_it_escapes_control_characters_of_the_file_in_its_problems(tmp_path: Path) -> None:
    path = write_config(tmp_path, site='"bad\\u001b[2J" = 1\n')

    result = run_check(str(path))

    assert result.returncode == 2
    assert "\x1b" not in result.stderr
    assert 'field "bad\\x1b[2J": unknown key' in result.stderr
