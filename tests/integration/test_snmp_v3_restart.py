"""SNMPv3 devices whose agent restarts: answered at the next poll (issue 9).

A real net-snmp `snmpd` restarted the three ways agents restart (see
`tests.fixtures.snmpd`). After each, the next poll must answer, not be
refused as malformed; the restart counts as exactly one reboot; and the
interval across it gives no rate ("device rebooted"), never a huge or a
negative one. Each test also checks that the restart did what it says (the
engine ID, boots and clock, and the USM report the agent answered with),
so that it cannot pass without the situation it is about.
"""

from __future__ import annotations

import asyncio
import itertools
import os
import time
from collections.abc import Callable
from pathlib import Path

from monitor.evaluation.counters import compare
from probes import snmp_failures
from probes.snmp import SnmpProber
from probes.snmpdata import PollFailure, SnmpObservation
from probes.snmpwire import UsmStat
from tests.fixtures.environment import need_programs
from tests.fixtures.snmpd import (
    SnmpAgent,
    V3Request,
    reporting_agent,
    snmp_agent,
    usm_report,
    watch,
)

__all__ = ["snmp_agent"]

FAST_CLOCK = 200  # the agent's clock runs 200 times fast: past 150 s in under a second
TIME_WINDOW = 150  # RFC 3414 2.2.3: seconds of engine time a request may be off by
NO_WAY = 10e9  # bit/s no interface of this machine's loopback carries between two polls


def polls_across(
    agent: SnmpAgent, restart: Callable[[], None]
) -> tuple[list[SnmpObservation], UsmStat | None]:
    """Two polls, the restart, three polls; and the last USM report the agent sent
    after the restart."""
    device = agent.v3(watch("lo"))
    address = (agent.address, agent.port)

    async def work() -> tuple[list[SnmpObservation], UsmStat | None]:
        prober = SnmpProber()
        tally = prober.session.tally
        try:
            observations = [await prober.probe(device) for _ in range(2)]
            seen = tally.reports[address]
            await asyncio.to_thread(restart)
            observations += [await prober.probe(device) for _ in range(3)]
            return observations, tally.report_since(address, seen)
        finally:
            await prober.aclose()

    return asyncio.run(work())


def assert_answered_with_one_reboot(observations: list[SnmpObservation]) -> None:
    """Every poll answered; only the interval across the restart (the 2nd) is a reboot,
    and it has no rate; the others have sane ones."""
    assert [o.error for o in observations] == [None] * len(observations)
    deltas = [compare(a, b, {}) for a, b in itertools.pairwise(observations)]
    assert [d.rebooted is not None for d in deltas] == [False, True, False, False]
    assert [r.no_rate for r in deltas[1].interfaces] == ["device rebooted"]
    assert [(r.in_bps, r.out_bps) for r in deltas[1].interfaces] == [(None, None)]
    for delta in deltas[:1] + deltas[2:]:
        for rates in delta.interfaces:
            for bps in (rates.in_bps, rates.out_bps):
                assert bps is None or 0 <= bps < NO_WAY, (bps, rates.no_rate)
    # the poller saw the reboot too: interface names are walked again (RFC 2863 3.1.5)
    after = observations[2]
    assert after.requests == 3, "GET; the reboot seen: ifName walked, GET again"


def test_it_answers_at_the_next_poll_after_a_restart_with_boots_incremented(
    snmp_agent: SnmpAgent,
) -> None:
    engine_id = snmp_agent.engine_id()
    observations, report = polls_across(snmp_agent, snmp_agent.restart)
    assert_answered_with_one_reboot(observations)
    before, after = observations[1], observations[2]
    assert snmp_agent.engine_id() == engine_id
    assert before.engine_boots is not None
    assert after.engine_boots == before.engine_boots + 1
    assert report is UsmStat.NOT_IN_TIME_WINDOWS  # RFC 3414 3.2 7a: boots differ


def test_it_answers_at_the_next_poll_after_a_restart_with_a_new_engine_id(
    snmp_agent: SnmpAgent,
) -> None:
    engine_id = snmp_agent.engine_id()
    observations, report = polls_across(snmp_agent, snmp_agent.restart_as_new_engine)
    assert_answered_with_one_reboot(observations)
    assert snmp_agent.engine_id() != engine_id
    assert report is UsmStat.UNKNOWN_ENGINE_IDS  # RFC 3414 3.2 3b: not its engine ID
    assert observations[2].duration < 1.0, "re-discovered at once, not after a timeout"


def test_it_answers_at_the_next_poll_after_a_restart_with_boots_unchanged_and_time_reset(
    tmp_path: Path,
) -> None:
    """An agent that keeps no state: same engine ID and boots, its clock from zero.
    Its clock runs fast before the restart, so that ours is far past RFC 3414's
    150 s window when it comes back, as after a real agent's long uptime."""
    need_programs("snmpd", "snmpget")
    agent = SnmpAgent(tmp_path / "snmpd")
    agent.start()
    agent.stop()  # it has a state to go back to now
    agent.start(clock_rate=FAST_CLOCK)
    try:
        time.sleep(1.5 * TIME_WINDOW / FAST_CLOCK)
        engine_id = agent.engine_id()
        observations, report = polls_across(agent, agent.restart_forgetting_boots)
        assert_answered_with_one_reboot(observations)
        before, after = observations[1], observations[2]
        assert agent.engine_id() == engine_id
        assert after.engine_boots == before.engine_boots
        assert before.engine_time is not None
        assert before.engine_time > TIME_WINDOW
        assert after.engine_time is not None
        assert after.engine_time < before.engine_time
        assert report is UsmStat.NOT_IN_TIME_WINDOWS  # RFC 3414 3.2 7a: time differs
    finally:
        agent.stop()


def test_it_re_discovers_a_new_engine_id_for_a_user_name_shared_with_other_keys(
    tmp_path: Path,
) -> None:
    """The second key set for one user name is bound to its agent's engine ID
    (`probes.snmp_auth`): after the agent's new engine ID it must be bound again,
    or the other device's keys would be used (WrongDigest)."""
    need_programs("snmpd", "snmpget")
    first = SnmpAgent(tmp_path / "first", address="127.0.0.1")
    second = SnmpAgent(tmp_path / "second", address="127.0.0.2")

    async def work() -> list[list[SnmpObservation]]:
        devices = [
            first.v3(watch("lo"), device_id="first"),
            second.v3(watch("lo"), device_id="second"),
        ]
        prober = SnmpProber()
        try:
            rounds = [[await prober.probe(d) for d in devices]]
            await asyncio.to_thread(second.restart_as_new_engine)
            rounds += [[await prober.probe(d) for d in devices] for _ in range(2)]
            return rounds
        finally:
            await prober.aclose()

    first.start()
    try:
        second.start()
        engine_id = second.engine_id()
        rounds = asyncio.run(work())
        assert second.engine_id() != engine_id
    finally:
        first.stop()
        second.stop()
    assert [[o.error for o in r] for r in rounds] == [[None, None]] * 3
    seconds = [r[1] for r in rounds]
    reboots = [compare(a, b, {}).rebooted for a, b in itertools.pairwise(seconds)]
    assert [reason is not None for reason in reboots] == [True, False]


# --- when re-discovery cannot succeed, the poll says why ------------------------------

FAULTY = "127.0.0.68"


def poll_reporting_agent(
    answer: Callable[[V3Request], bytes | None],
) -> tuple[SnmpObservation, int]:
    """One poll of a device whose agent answers with `answer`; and its request count."""

    async def work() -> tuple[SnmpObservation, int]:
        async with reporting_agent(FAULTY, answer) as (port, agent):
            device = SnmpAgent(Path("unused"), address=FAULTY, port=port).v3()
            prober = SnmpProber()
            try:
                return await prober.probe(device), agent.requests
            finally:
                await prober.aclose()

    return asyncio.run(work())


def test_it_names_an_engine_id_that_changes_at_every_answer() -> None:
    """Fault: each answer is usmStatsUnknownEngineIDs with yet another engine ID."""

    def answer(request: V3Request) -> bytes:
        return usm_report(
            request, UsmStat.UNKNOWN_ENGINE_IDS, b"\x80\x00\x1f\x88\x04" + os.urandom(8)
        )

    observation, requests = poll_reporting_agent(answer)
    assert observation.failure is PollFailure.AUTH
    assert observation.error == snmp_failures.ENGINE_ID_CHANGED
    assert requests > 2, "re-discovered, more than once"
    assert observation.duration < 1.0, "gave up on the reports, not on a timeout"


def test_it_names_a_clock_that_never_gets_in_the_time_window() -> None:
    """Fault: discovery answered, then every request is usmStatsNotInTimeWindows."""
    engine_id = b"\x80\x00\x1f\x88\x04examnet"

    def answer(request: V3Request) -> bytes:
        stat = UsmStat.UNKNOWN_ENGINE_IDS if not request.engine_id else UsmStat.NOT_IN_TIME_WINDOWS
        return usm_report(request, stat, engine_id)

    observation, requests = poll_reporting_agent(answer)
    assert observation.failure is PollFailure.AUTH
    assert observation.error == snmp_failures.NOT_IN_TIME_WINDOW
    assert requests > 2, "resynchronised, more than once"
    assert observation.duration < 1.0
