"""What one poll asks, how answers become readings, and what the poller learns."""

from __future__ import annotations

from typing import Any

from pysnmp.proto import rfc1902, rfc1905

from monitor.model.inventory import CustomOid, Device, SnmpV2c, WatchedInterface
from monitor.model.secrets import Secret
from probes import snmpdata as oids
from probes.snmp_plan import (
    COLUMNS_32,
    COLUMNS_HC,
    RETRY_MISSING_EVERY,
    DeviceState,
    Reading,
    chunks,
    learn,
    plan,
    read,
    rebooted,
)
from probes.snmpdata import ValueProblem

CUSTOM = "1.3.6.1.4.1.99999.1.0"


def watch(name: str | None = None, index: int | None = None) -> WatchedInterface:
    return WatchedInterface(name=name, index=index, capacity_bps=None)


def device(*interfaces: WatchedInterface, ups: bool = False, custom: bool = False) -> Device:
    return Device(
        id="router", address="192.0.2.1", port=161, credentials=SnmpV2c(Secret("c")),
        interfaces=interfaces, ups=ups, site="s",
        oids=(CustomOid("load", "." + CUSTOM, "%", None, None),) if custom else (),
    )  # fmt: skip


def good(oid: str) -> Any:
    column = oid.rsplit(".", 1)[0]
    values = {
        oids.IF_OPER_STATUS: rfc1902.Integer(1),
        oids.IF_ADMIN_STATUS: rfc1902.Integer(1),
        oids.IF_HC_IN_OCTETS: rfc1902.Counter64(10),
        oids.IF_HC_OUT_OCTETS: rfc1902.Counter64(20),
        oids.IF_IN_OCTETS: rfc1902.Counter32(1),
        oids.IF_OUT_OCTETS: rfc1902.Counter32(2),
        oids.IF_HIGH_SPEED: rfc1902.Gauge32(1000),
        oids.IF_COUNTER_DISCONTINUITY: rfc1902.TimeTicks(0),
    }
    scalars = {
        oids.SYS_UPTIME: rfc1902.TimeTicks(500),
        oids.ENGINE_BOOTS: rfc1902.Integer(2),
        oids.ENGINE_TIME: rfc1902.Integer(5),
        CUSTOM: rfc1902.Gauge32(7),
    }
    if oid in scalars:
        return scalars[oid]
    if oid.startswith("1.3.6.1.2.1.33."):  # UPS-MIB: 1 fits every one of its ranges
        return rfc1902.Integer(1)
    return values.get(column, rfc1902.Counter32(0))


def answers(wanted: list[str], **bad: Any) -> dict[str, Any]:
    return {oid: bad.get(oid, good(oid)) for oid in wanted}


def test_it_asks_scalars_ups_custom_oids_and_each_interface_row_once() -> None:
    state = DeviceState(indices={"eth0": 3})
    wanted = plan(device(watch("eth0"), watch(index=3), watch(index=5), ups=True, custom=True),
                  state)  # fmt: skip
    assert wanted[:3] == [oids.SYS_UPTIME, oids.ENGINE_BOOTS, oids.ENGINE_TIME]
    assert oids.UPS_OUTPUT_SOURCE in wanted
    assert CUSTOM in wanted  # the leading dot of sites.toml is dropped
    assert len(wanted) == len(set(wanted)) == 3 + 6 + 1 + 2 * len(COLUMNS_HC)
    assert f"{oids.IF_HC_IN_OCTETS}.5" in wanted


def test_it_asks_32_bit_counters_of_an_interface_without_hc() -> None:
    wanted = plan(device(watch(index=4)), DeviceState(no_hc={4}))
    assert f"{oids.IF_IN_OCTETS}.4" in wanted
    assert f"{oids.IF_HC_IN_OCTETS}.4" not in wanted
    assert len(wanted) == 3 + len(COLUMNS_32)


def test_it_skips_a_name_not_yet_resolved() -> None:
    scalars = [oids.SYS_UPTIME, oids.ENGINE_BOOTS, oids.ENGINE_TIME]
    assert plan(device(watch("eth9")), DeviceState()) == scalars


def test_it_splits_a_long_request() -> None:
    assert [len(c) for c in chunks([str(n) for n in range(95)], 40)] == [40, 40, 15]


def test_it_reads_a_clean_answer() -> None:
    state = DeviceState(indices={"eth0": 3}, reported={"eth0": "eth0"}, stale=False)
    dev = device(watch("eth0"), custom=True)
    reading = read(dev, state, answers(plan(dev, state)))
    assert (reading.sys_uptime, reading.engine_boots, reading.engine_time) == (500, 2, 5)
    [eth0] = reading.interfaces
    assert (eth0.index, eth0.configured, eth0.name, eth0.counter_bits) == (3, "eth0", "eth0", 64)
    assert (eth0.oper_status, eth0.in_octets, eth0.out_octets) == (1, 10, 20)
    assert reading.oids[0].value == 7.0
    assert reading.problems == []


def test_it_keeps_the_rest_when_one_value_is_wrong() -> None:
    dev = device(watch(index=3), ups=True)
    state = DeviceState()
    bad = {
        f"{oids.IF_HC_IN_OCTETS}.3": rfc1902.OctetString(b"x"),
        oids.UPS_MINUTES_REMAINING: rfc1902.Integer(-5),
    }
    values = answers(plan(dev, state), **bad)
    reading = read(dev, state, values)
    [row] = reading.interfaces
    assert (row.in_octets, row.out_octets) == (None, 20)
    assert reading.ups is not None
    assert reading.ups.minutes_remaining is None
    assert {(p.kind, p.what) for p in reading.problems} == {
        (ValueProblem.WRONG_TYPE, "ifHCInOctets.3"),
        (ValueProblem.ABSURD, "upsEstimatedMinutesRemaining.0"),
    }


def test_it_notices_an_interface_without_hc_counters() -> None:
    dev = device(watch(index=3))
    absent = {f"{column}.3": rfc1905.noSuchObject
              for column in (oids.IF_HC_IN_OCTETS, oids.IF_HC_OUT_OCTETS)}  # fmt: skip
    values = answers(plan(dev, DeviceState()), **absent)
    state = DeviceState()
    reading = read(dev, state, values)
    assert reading.without_hc == [3]
    assert learn(dev, state, reading)
    assert state.no_hc == {3}
    [row] = read(dev, state, answers(plan(dev, state))).interfaces
    assert (row.counter_bits, row.in_octets, row.out_octets) == (32, 1, 2)


def test_it_calls_a_vanished_row_not_found_and_resolves_its_name_again() -> None:
    dev = device(watch("eth0"), watch(index=9))
    state = DeviceState(indices={"eth0": 3}, stale=False)
    wanted = plan(dev, state)
    gone = {oid: rfc1905.noSuchInstance for oid in wanted if oid.endswith((".3", ".9"))}
    reading = read(dev, state, answers(wanted, **gone))
    assert reading.interfaces == []
    assert sorted(p.what for p in reading.problems) == ["interface '#9'", "interface 'eth0'"]
    assert {p.kind for p in reading.problems} == {ValueProblem.NOT_FOUND}
    assert reading.vanished == ["eth0"]
    assert learn(dev, state, reading)
    assert state.needs_resolution(dev)


def test_it_reports_each_missing_name_on_every_poll() -> None:
    dev = device(watch("eth9"))
    state = DeviceState(missing=("eth9",), stale=False)
    reading = read(dev, state, answers(plan(dev, state)))
    assert [(p.kind, p.what) for p in reading.problems] == [
        (ValueProblem.NOT_FOUND, "interface 'eth9'")
    ]


def test_it_looks_for_a_missing_name_again_only_every_few_polls() -> None:
    dev = device(watch("eth9"))
    state = DeviceState()
    assert state.needs_resolution(dev)
    state.resolved({}, ("eth9",))
    due = []
    for _ in range(RETRY_MISSING_EVERY):
        state.polls_since_resolution += 1
        due.append(state.needs_resolution(dev))
    assert due == [False] * (RETRY_MISSING_EVERY - 1) + [True]


def test_it_resolves_a_name_added_by_a_reload_at_once() -> None:
    state = DeviceState(indices={"eth0": 3}, stale=False)
    assert not state.needs_resolution(device(watch("eth0")))
    assert state.needs_resolution(device(watch("eth0"), watch("eth1")))


def test_it_forgets_a_missing_name_the_config_no_longer_has() -> None:
    dev = device(watch(index=1))
    state = DeviceState(missing=("eth9",), stale=False)
    assert read(dev, state, answers(plan(dev, state))).problems == []


def test_it_never_resolves_a_device_watched_by_index_only() -> None:
    assert not DeviceState().needs_resolution(device(watch(index=1)))


def at(uptime: int | None, boots: int | None) -> Reading:
    return Reading(sys_uptime=uptime, engine_boots=boots)


def test_it_sees_a_reboot_when_uptime_drops_and_boots_move() -> None:
    assert rebooted(DeviceState(uptime=900_000, boots=4), at(1_000, 5))


def test_it_sees_no_reboot_in_the_497_day_wrap_of_sysuptime() -> None:
    assert not rebooted(DeviceState(uptime=2**32 - 100, boots=4), at(50, 4))


def test_it_sees_no_reboot_while_uptime_grows() -> None:
    assert not rebooted(DeviceState(uptime=1_000, boots=4), at(2_000, 5))
    assert not rebooted(DeviceState(), at(2_000, 5))


def test_it_trusts_uptime_alone_when_the_agent_has_no_engine_boots() -> None:
    assert rebooted(DeviceState(uptime=900_000, boots=None), at(1_000, None))


def test_it_walks_names_again_after_a_reboot() -> None:
    dev = device(watch("eth0"))
    state = DeviceState(indices={"eth0": 3}, stale=False, uptime=900_000, boots=4)
    assert learn(dev, state, at(1_000, 5))
    assert state.stale
    assert (state.uptime, state.boots) == (1_000, 5)
    index_only = device(watch(index=3))
    assert not learn(index_only, DeviceState(uptime=900_000, boots=4), at(1_000, 5))
