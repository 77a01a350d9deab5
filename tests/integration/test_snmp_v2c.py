"""The v2c fast path on real sockets: spoofed replies, no pyasn1, v2c and v3 side by side."""

from __future__ import annotations

import asyncio
import socket

import pytest
from pyasn1.codec.ber import decoder

from probes.snmp import SnmpProber
from probes.snmp_failures import NO_ANSWER_V2C
from probes.snmpdata import PollFailure, SnmpObservation
from tests.fixtures.snmpd import SnmpAgent, free_udp_port, snmp_agent, watch
from tests.integration.test_snmp_fuzz import ADDRESS, V2C, Request, answer, fuzz_device

__all__ = ["snmp_agent"]

ELSEWHERE = "127.0.0.67"  # another host on the path, or an attacker who saw the request


class Spoofer(asyncio.DatagramProtocol):
    """Stands at the device's address; its answer leaves from ELSEWHERE (with the right
    request-id), then, if `genuine`, the device's own answer leaves from here."""

    def __init__(self, genuine: bool) -> None:
        self.genuine = genuine
        self.transport: asyncio.DatagramTransport | None = None
        self.other = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.other.bind((ELSEWHERE, 0))

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]  # a datagram endpoint's

    def datagram_received(self, data: bytes, addr: tuple[str, int]) -> None:
        request: Request = decoder.decode(data, asn1Spec=V2C.Message())[0]
        self.other.sendto(answer(request, lambda _oid: V2C.Integer(99)), addr)
        if self.genuine and self.transport is not None:
            self.transport.sendto(answer(request), addr)


def poll_behind_a_spoofer(genuine: bool) -> tuple[SnmpObservation, dict[str, int]]:
    async def main() -> tuple[SnmpObservation, dict[str, int]]:
        port = free_udp_port(ADDRESS)
        spoofer = Spoofer(genuine)
        transport, _ = await asyncio.get_running_loop().create_datagram_endpoint(
            lambda: spoofer, local_addr=(ADDRESS, port)
        )
        prober = SnmpProber()
        try:
            device = fuzz_device(port)
            return await prober.probe(device), prober.counts(device.key)
        finally:
            await prober.aclose()
            transport.close()
            spoofer.other.close()

    return asyncio.run(main())


def test_it_takes_no_reply_from_another_address_as_the_answer() -> None:
    observation, counts = poll_behind_a_spoofer(genuine=False)
    assert observation.failure is PollFailure.TIMEOUT
    assert observation.error == NO_ANSWER_V2C  # not "malformed": the device said nothing
    assert counts == {"timeout": 1}


def test_it_takes_the_devices_own_answer_after_a_spoofed_one() -> None:
    observation, counts = poll_behind_a_spoofer(genuine=True)
    assert observation.error is None
    assert observation.sys_uptime == 123456  # the device's; the spoof said 99 everywhere
    assert [i.oper_status for i in observation.interfaces] == [1]
    assert counts == {}


def test_it_polls_v2c_without_pyasn1(
    snmp_agent: SnmpAgent, monkeypatch: pytest.MonkeyPatch
) -> None:
    def refuse(*_args: object, **_kwargs: object) -> None:
        raise AssertionError("pyasn1 decoded a v2c answer")

    monkeypatch.setattr(decoder, "decode", refuse)

    async def main() -> SnmpObservation:
        prober = SnmpProber()
        try:
            return await prober.probe(snmp_agent.v2c(watch("lo")))
        finally:
            await prober.aclose()

    observation = asyncio.run(main())
    assert observation.error is None
    assert observation.requests == 2  # the ifName walk and the GET, both on the fast path


def test_it_polls_v2c_and_v3_devices_at_once(snmp_agent: SnmpAgent) -> None:
    """One socket carries both: v3 answers must reach pysnmp, v2c ones the channel."""
    devices = [snmp_agent.v2c(watch("lo"), device_id=f"v2c-{n}") for n in range(20)]
    devices += [snmp_agent.v3(watch("lo"), device_id=f"v3-{n}") for n in range(5)]

    async def main() -> list[SnmpObservation]:
        prober = SnmpProber()
        try:
            observations = []
            for _ in range(2):
                observations += await asyncio.gather(*(prober.probe(d) for d in devices))
            return observations
        finally:
            await prober.aclose()

    observations = asyncio.run(main())
    assert [o.error for o in observations] == [None] * len(observations)
    assert {o.interfaces[0].name for o in observations} == {"lo"}
