"""The SNMP poller against real net-snmp agents on 127.0.0.x."""

from __future__ import annotations

import asyncio
import logging
import socket
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TypeVar

import pytest
from pysnmp.carrier.asyncio.dgram import udp
from pysnmp.entity import config

from monitor.model.inventory import Device
from probes.snmp import SnmpProber
from probes.snmp_plan import RETRY_MISSING_EVERY
from probes.snmpdata import OperStatus, PollFailure, SnmpObservation, ValueProblem
from tests.fixtures.environment import need_programs
from tests.fixtures.snmpd import SnmpAgent, snmp_agent, watch

__all__ = ["snmp_agent"]

T = TypeVar("T")


def run(work: Callable[[SnmpProber], Awaitable[T]]) -> T:
    async def main() -> T:
        prober = SnmpProber()
        try:
            return await work(prober)
        finally:
            await prober.aclose()

    return asyncio.run(main())


def poll(device: Device, times: int = 1) -> list[SnmpObservation]:
    async def work(prober: SnmpProber) -> list[SnmpObservation]:
        return [await prober.probe(device) for _ in range(times)]

    return run(work)


def assert_sane(observation: SnmpObservation) -> None:
    assert observation.error is None, observation.error
    assert observation.failure is None
    assert observation.sys_uptime is not None
    assert observation.sys_uptime > 0
    assert observation.engine_boots is not None
    assert observation.engine_boots >= 1
    [lo] = observation.interfaces
    assert (lo.configured, lo.name) == ("lo", "lo")
    assert lo.oper_status == OperStatus.UP
    assert lo.admin_status == OperStatus.UP
    assert lo.counter_bits == 64
    assert lo.in_octets is not None
    assert lo.out_octets is not None
    assert lo.in_errors == 0
    assert observation.problems == ()
    assert observation.received_at > 0


def test_it_polls_a_v2c_agent_with_sane_values(snmp_agent: SnmpAgent) -> None:
    for observation in poll(snmp_agent.v2c(watch("lo")), times=2):
        assert_sane(observation)


def test_it_polls_a_v3_authpriv_agent_with_sane_values(snmp_agent: SnmpAgent) -> None:
    for observation in poll(snmp_agent.v3(watch("lo")), times=2):
        assert_sane(observation)


def test_it_resolves_names_once_and_then_polls_with_one_get(snmp_agent: SnmpAgent) -> None:
    observations = poll(snmp_agent.v2c(watch("lo"), watch(index=1)), times=4)
    # the first poll walks ifName (one GETBULK) then GETs; later polls only GET
    assert [o.requests for o in observations] == [2, 1, 1, 1]
    assert [r.configured for r in observations[-1].interfaces] == ["lo", "#1"]


def test_it_reports_a_missing_interface_and_keeps_the_rest(snmp_agent: SnmpAgent) -> None:
    [observation] = poll(snmp_agent.v2c(watch("lo"), watch("no-such-if0"), watch(index=99999)))
    assert observation.error is None
    assert [r.configured for r in observation.interfaces] == ["lo"]
    assert sorted((p.kind, p.what) for p in observation.problems) == [
        (ValueProblem.NOT_FOUND, "interface '#99999'"),
        (ValueProblem.NOT_FOUND, "interface 'no-such-if0'"),
    ]
    assert observation.sys_uptime is not None


def test_it_looks_for_a_missing_name_again_only_every_few_polls(snmp_agent: SnmpAgent) -> None:
    observations = poll(snmp_agent.v2c(watch("no-such-if0")), times=RETRY_MISSING_EVERY + 1)
    # ifName walk, ifDescr+ifAlias walk, GET; then GETs only; then both walks again
    expected = [3] + [1] * (RETRY_MISSING_EVERY - 1) + [3]
    assert [o.requests for o in observations] == expected


def test_it_calls_a_wrong_community_no_answer(snmp_agent: SnmpAgent) -> None:
    [observation] = poll(snmp_agent.v2c(watch("lo"), community="not-the-community"))
    assert observation.failure is PollFailure.TIMEOUT
    assert observation.error == "no answer (wrong community or device down)"
    assert observation.interfaces == ()


def test_it_counts_failures_and_problems_per_device(snmp_agent: SnmpAgent) -> None:
    silent = snmp_agent.v2c(community="not-the-community", device_id="silent")
    partial = snmp_agent.v2c(watch("lo"), watch("no-such-if0"), device_id="partial")

    async def work(prober: SnmpProber) -> list[dict[str, int]]:
        for device in (silent, partial, partial):
            await prober.probe(device)
        return [prober.counts(silent.key), prober.counts(partial.key), prober.counts("x")]

    assert run(work) == [{"timeout": 1}, {"interface_not_found": 2}, {}]


def test_it_calls_a_wrong_v3_auth_key_an_authentication_failure(snmp_agent: SnmpAgent) -> None:
    [observation] = poll(snmp_agent.v3(auth_key="not-the-auth-key"))
    assert observation.failure is PollFailure.AUTH
    assert observation.error == "authentication failed (wrong auth key?)"


def test_it_calls_an_unknown_v3_user_an_authentication_failure(snmp_agent: SnmpAgent) -> None:
    [observation] = poll(snmp_agent.v3(user="nobody"))
    assert observation.failure is PollFailure.AUTH
    assert observation.error == "authentication failed (unknown user)"


def test_it_says_when_the_security_level_is_not_allowed(snmp_agent: SnmpAgent) -> None:
    [observation] = poll(snmp_agent.v3(privacy=False))  # the user is authPriv only
    assert observation.failure is PollFailure.AUTH
    assert observation.error == "authentication failed (security level not allowed)"


def test_it_calls_a_wrong_v3_privacy_key_no_answer(snmp_agent: SnmpAgent) -> None:
    [observation] = poll(snmp_agent.v3(priv_key="not-the-priv-key"))
    assert observation.failure is PollFailure.TIMEOUT
    assert observation.error == "no answer (wrong privacy key or device down)"


def test_it_never_shows_a_secret(snmp_agent: SnmpAgent, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    for name in ("pysnmp", "pyasn1", "asyncio", "probes"):
        caplog.set_level(logging.DEBUG, logger=name)
    agent = snmp_agent
    devices = [
        agent.v2c(watch("lo")),
        agent.v2c(watch("lo"), community="wrong-" + agent.community),
        agent.v3(watch("lo")),
        agent.v3(auth_key="wrong-" + agent.auth_key, device_id="bad-auth"),
        agent.v3(priv_key="wrong-" + agent.priv_key, device_id="bad-priv"),
        agent.v3(privacy=False, device_id="no-priv"),
    ]

    async def work(prober: SnmpProber) -> list[str]:
        observations = [await prober.probe(d) for d in devices]
        counts = [prober.counts(f"device:{d.owner}/{d.id}") for d in devices]
        return [repr(o) for o in observations] + [repr(c) for c in counts]

    texts = run(work)
    texts += [caplog.text] + [r.getMessage() for r in caplog.records]
    for secret in agent.secrets:
        for text in texts:
            assert secret not in text


def test_it_keeps_polling_after_the_agent_restarts(snmp_agent: SnmpAgent) -> None:
    device = snmp_agent.v2c(watch("lo"))

    async def work(prober: SnmpProber) -> tuple[SnmpObservation, SnmpObservation]:
        before = await prober.probe(device)
        await asyncio.to_thread(snmp_agent.restart)
        return before, await prober.probe(device)

    before, after = run(work)
    assert_sane(before)
    assert_sane(after)
    assert before.engine_boots is not None
    assert after.engine_boots == before.engine_boots + 1
    # GET, the reboot seen: names walked again, GET again
    assert after.requests == 3


def test_it_tells_apart_two_agents_with_one_v3_user_and_different_keys(tmp_path: Path) -> None:
    need_programs("snmpd", "snmpget")
    first = SnmpAgent(tmp_path / "first", address="127.0.0.1")
    second = SnmpAgent(tmp_path / "second", address="127.0.0.2")
    with _running(first, second):
        devices = [first.v3(device_id="first"), second.v3(device_id="second")] * 5

        async def work(prober: SnmpProber) -> list[SnmpObservation]:
            results = []
            for _ in range(3):
                results += await asyncio.gather(*(prober.probe(d) for d in devices))
            return results

        observations = run(work)
    assert [o.error for o in observations] == [None] * len(observations)


def test_it_polls_many_devices_at_once_over_one_engine(snmp_agent: SnmpAgent) -> None:
    devices = [snmp_agent.v2c(watch("lo"), device_id=f"router-{n}") for n in range(150)]

    async def work(prober: SnmpProber) -> list[SnmpObservation]:
        return list(await asyncio.gather(*(prober.probe(d) for d in devices)))

    observations = run(work)
    assert [o.error for o in observations] == [None] * len(devices)


@contextmanager
def _running(*agents: SnmpAgent) -> Iterator[None]:
    try:
        for agent in agents:
            agent.start()
        yield
    finally:
        for agent in agents:
            agent.stop()


def test_it_binds_its_socket_to_the_given_interface_and_sends_nothing_without_it(
    snmp_agent: SnmpAgent,
) -> None:
    """Like the ICMP sockets: in a lab, polls may leave only through the lab's
    interface; a vanished interface makes them fail instead of taking the
    default route (network rule; a CI rehearsal caught it for ICMP)."""
    device = snmp_agent.v2c(watch("lo"))

    async def bound_to(name: str) -> tuple[SnmpObservation, bytes | None]:
        prober = SnmpProber(bind_device=name)
        try:
            observation = await prober.probe(device)
            transport = config.get_transport(prober.session._engine, udp.DOMAIN_NAME).transport
            if transport is None:  # the socket could not be bound: it was closed
                return observation, None
            sock = transport.get_extra_info("socket")
            return observation, sock.getsockopt(socket.SOL_SOCKET, socket.SO_BINDTODEVICE, 16)
        finally:
            await prober.aclose()

    answered, device_name = asyncio.run(bound_to("lo"))
    assert_sane(answered)
    assert device_name is not None
    assert device_name.rstrip(b"\0") == b"lo"
    elsewhere, _ = asyncio.run(bound_to("exr-nowhere"))
    assert elsewhere.error is not None
