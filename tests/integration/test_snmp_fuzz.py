"""Bad answers: an agent on 127.0.0.x that answers every request with a fault.

Each case is named after the fault it reproduces. Valid-looking answers are
built with pysnmp's own v2c message classes from the request, then
corrupted. Every poll must return an observation, every fault must be
counted (as a poll failure or as value problems), nothing may raise, and
the prober must still poll a good agent afterwards.
"""

from __future__ import annotations

import asyncio
import os
import socket
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest
from pyasn1.codec.ber import decoder, encoder
from pysnmp.proto import api, rfc1902, rfc1905

from monitor.model.inventory import CustomOid, Device, SnmpV2c
from monitor.model.secrets import Secret
from probes import snmpdata as oids
from probes.snmp import SnmpProber
from probes.snmpdata import PollFailure, SnmpObservation, ValueProblem
from tests.fixtures.snmpd import SnmpAgent, free_udp_port, snmp_agent, watch

__all__ = ["snmp_agent"]

V2C = api.PROTOCOL_MODULES[api.SNMP_VERSION_2C]
ADDRESS = "127.0.0.66"
COMMUNITY = "fuzz-community"
CUSTOM = "1.3.6.1.4.1.99999.1.0"
MARK_GAUGE = 0x5A5A  # ifHighSpeed, found in the encoded answer and corrupted
MARK_COUNTER = 0x5A5A5A5A5A5A5A5A  # ifHCInOctets, likewise

Request = Any  # a decoded v2c message
Fault = Callable[[Request, bytes], list[bytes]]

SCALARS: dict[str, Any] = {
    oids.SYS_UPTIME: rfc1902.TimeTicks(123456),
    oids.ENGINE_BOOTS: rfc1902.Integer(3),
    oids.ENGINE_TIME: rfc1902.Integer(1234),
    oids.UPS_OUTPUT_SOURCE: rfc1902.Integer(3),
    oids.UPS_BATTERY_STATUS: rfc1902.Integer(2),
    oids.UPS_MINUTES_REMAINING: rfc1902.Integer(42),
    oids.UPS_SECONDS_ON_BATTERY: rfc1902.Integer(0),
    oids.UPS_CHARGE_REMAINING: rfc1902.Integer(100),
    oids.UPS_INPUT_VOLTAGE: rfc1902.Integer(230),
    CUSTOM: rfc1902.OctetString(b"42.5"),
}
COLUMNS: dict[str, Any] = {
    oids.IF_OPER_STATUS: rfc1902.Integer(1),
    oids.IF_ADMIN_STATUS: rfc1902.Integer(1),
    oids.IF_HC_IN_OCTETS: rfc1902.Counter64(MARK_COUNTER),
    oids.IF_HC_OUT_OCTETS: rfc1902.Counter64(2000),
    oids.IF_IN_OCTETS: rfc1902.Counter32(1000),
    oids.IF_OUT_OCTETS: rfc1902.Counter32(2000),
    oids.IF_IN_ERRORS: rfc1902.Counter32(0),
    oids.IF_OUT_ERRORS: rfc1902.Counter32(0),
    oids.IF_IN_DISCARDS: rfc1902.Counter32(0),
    oids.IF_OUT_DISCARDS: rfc1902.Counter32(0),
    oids.IF_HIGH_SPEED: rfc1902.Gauge32(MARK_GAUGE),
    oids.IF_COUNTER_DISCONTINUITY: rfc1902.TimeTicks(0),
}


def good_value(oid: str) -> Any:
    if oid in SCALARS:
        return SCALARS[oid]
    return COLUMNS.get(oid.rsplit(".", 1)[0], rfc1905.noSuchObject)


def requested(request: Request) -> list[str]:
    pdu = V2C.apiMessage.get_pdu(request)
    return [str(name) for name, _ in V2C.apiPDU.get_varbinds(pdu)]


def answer(request: Request, value: Callable[[str], Any] = good_value, *,
           oids_asked: list[str] | None = None, request_id: int | None = None,
           error_status: int = 0, community: bytes | None = None) -> bytes:  # fmt: skip
    """A response to `request` (as an agent would send it), with the faults asked for."""
    response = V2C.apiMessage.get_response(request)
    pdu = V2C.apiMessage.get_pdu(response)
    names = requested(request) if oids_asked is None else oids_asked
    V2C.apiPDU.set_varbinds(pdu, [(name, value(name)) for name in names])
    if request_id is not None:
        V2C.apiPDU.set_request_id(pdu, request_id)
    if error_status:
        V2C.apiPDU.set_error_status(pdu, error_status)
        V2C.apiPDU.set_error_index(pdu, 1)
    if community is not None:
        V2C.apiMessage.set_community(response, community)
    encoded: bytes = encoder.encode(response)
    return encoded


def override(**by_column: Any) -> Callable[[str], Any]:
    """Good values, except for the named columns or scalars (OID prefix -> value)."""
    table = {getattr(oids, name): value for name, value in by_column.items()}

    def value(oid: str) -> Any:
        for prefix, bad in table.items():
            if oid == prefix or oid.startswith(prefix + "."):
                return bad
        return good_value(oid)

    return value


def override_custom(bad: Any) -> Callable[[str], Any]:
    return lambda oid: bad if oid == CUSTOM else good_value(oid)


def patch(data: bytes, before: bytes, after: bytes) -> bytes:
    assert before in data
    return data.replace(before, after, 1)


def request_id_of(request: Request) -> int:
    return int(V2C.apiPDU.get_request_id(V2C.apiMessage.get_pdu(request)))


def as_request_pdu(request: Request) -> bytes:
    """The same message sent back as a GetRequest, not a Response."""
    message = V2C.apiMessage.get_response(request)
    get = V2C.GetRequestPDU()
    V2C.apiPDU.set_defaults(get)
    V2C.apiPDU.set_request_id(get, request_id_of(request))
    V2C.apiPDU.set_varbinds(get, [(n, rfc1902.Null("")) for n in requested(request)])
    V2C.apiMessage.set_pdu(message, get)
    encoded: bytes = encoder.encode(message)
    return encoded


@dataclass(frozen=True)
class Case:
    fault: Fault
    failure: PollFailure | None = None  # the whole poll fails so
    problems: frozenset[ValueProblem] = frozenset()  # or these values are missing

    @property
    def counted(self) -> set[str]:
        kinds = {p.value for p in self.problems}
        return kinds | ({self.failure.value} if self.failure else set())


def fails(kind: PollFailure, fault: Fault) -> Case:
    return Case(fault, failure=kind)


def spoils(fault: Fault, *problems: ValueProblem) -> Case:
    return Case(fault, problems=frozenset(problems))


MALFORMED = PollFailure.MALFORMED
CASES: dict[str, Case] = {
    "well_formed_answer": Case(lambda r, _: [answer(r)]),
    "answer_sent_twice": Case(lambda r, _: [answer(r), answer(r)]),
    "random_bytes": fails(MALFORMED, lambda _r, _raw: [os.urandom(200)]),
    "empty_datagram": fails(MALFORMED, lambda _r, _raw: [b""]),
    "truncated_ber": fails(MALFORMED, lambda r, _: [answer(r)[: len(answer(r)) // 2]]),
    "huge_datagram_of_junk": fails(MALFORMED, lambda _r, _raw: [b"\x30\x84" + os.urandom(60000)]),
    "request_echoed_back": fails(MALFORMED, lambda _r, raw: [raw]),
    "wrong_request_id": fails(MALFORMED, lambda r, _: [answer(r, request_id=request_id_of(r) ^ 1)]),
    "wrong_community_in_the_answer": fails(
        MALFORMED, lambda r, _: [answer(r, community=b"someone-else")]
    ),
    "get_request_instead_of_a_response": fails(MALFORMED, lambda r, _: [as_request_pdu(r)]),
    "fewer_varbinds_than_asked": fails(
        MALFORMED, lambda r, _: [answer(r, oids_asked=requested(r)[:-1])]
    ),
    "other_oids_than_asked": fails(
        MALFORMED, lambda r, _: [answer(r, oids_asked=[n + ".0" for n in requested(r)])]
    ),
    "negative_gauge_on_the_wire": fails(
        MALFORMED, lambda r, _: [patch(answer(r), b"\x42\x02\x5a\x5a", b"\x42\x02\xfa\x5a")]
    ),
    "negative_counter64_on_the_wire": fails(
        MALFORMED, lambda r, _: [patch(answer(r), b"\x46\x08\x5a\x5a", b"\x46\x08\xfa\x5a")]
    ),
    "error_status_gen_err": fails(
        PollFailure.ERROR_STATUS, lambda r, _: [answer(r, error_status=5)]
    ),
    "error_status_too_big_for_any_size": fails(
        PollFailure.ERROR_STATUS, lambda r, _: [answer(r, error_status=1)]
    ),
    "octet_string_where_a_counter64_belongs": spoils(
        lambda r, _: [answer(r, override(IF_HC_IN_OCTETS=rfc1902.OctetString(b"12345")))],
        ValueProblem.WRONG_TYPE,
    ),
    "counter32_where_a_timeticks_belongs": spoils(
        lambda r, _: [answer(r, override(SYS_UPTIME=rfc1902.Counter32(5)))],
        ValueProblem.WRONG_TYPE,
    ),
    "custom_oid_text_that_is_no_number": spoils(
        lambda r, _: [answer(r, override_custom(rfc1902.OctetString(b"n/a")))],
        ValueProblem.WRONG_TYPE,
    ),
    "huge_string_where_a_number_belongs": spoils(
        lambda r, _: [answer(r, override_custom(rfc1902.OctetString(b"7" * 60000)))],
        ValueProblem.WRONG_TYPE,
    ),
    "no_such_object_everywhere": spoils(
        lambda r, _: [answer(r, lambda _o: rfc1905.noSuchObject)],
        ValueProblem.NO_SUCH_OBJECT, ValueProblem.NOT_FOUND,
    ),
    "no_such_instance_for_the_engine_scalars": spoils(
        lambda r, _: [answer(r, override(ENGINE_BOOTS=rfc1905.noSuchInstance,
                                         ENGINE_TIME=rfc1905.noSuchInstance))],
        ValueProblem.NO_SUCH_INSTANCE,
    ),
    "end_of_mib_view_in_a_get": spoils(
        lambda r, _: [answer(r, override(UPS_OUTPUT_SOURCE=rfc1905.endOfMibView))],
        ValueProblem.END_OF_MIB,
    ),
    "absurd_integers": spoils(
        lambda r, _: [answer(r, override(IF_OPER_STATUS=rfc1902.Integer(99),
                                         UPS_MINUTES_REMAINING=rfc1902.Integer(-5),
                                         UPS_CHARGE_REMAINING=rfc1902.Integer(250)))],
        ValueProblem.ABSURD,
    ),
    "no_64_bit_counters": Case(
        lambda r, _: [answer(r, override(IF_HC_IN_OCTETS=rfc1905.noSuchObject,
                                         IF_HC_OUT_OCTETS=rfc1905.noSuchObject))]
    ),
    "silence": fails(PollFailure.TIMEOUT, lambda _r, _raw: []),
}  # fmt: skip


class Responder(asyncio.DatagramProtocol):
    """Answers each request with what the current fault makes of it."""

    def __init__(self) -> None:
        self.fault: Fault = CASES["well_formed_answer"].fault
        self.transport: asyncio.DatagramTransport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]  # a datagram endpoint's

    def datagram_received(self, data: bytes, addr: tuple[str, int]) -> None:
        request, _ = decoder.decode(data, asn1Spec=V2C.Message())
        if self.transport is None:
            return
        for datagram in self.fault(request, data):
            if datagram:
                self.transport.sendto(datagram, addr)
            else:  # asyncio's sendto skips empty data: a duplicate of its socket does not
                fileno = self.transport.get_extra_info("socket").fileno()
                with socket.fromfd(fileno, socket.AF_INET, socket.SOCK_DGRAM) as same:
                    same.sendto(datagram, addr)


def fuzz_device(port: int) -> Device:
    return Device(
        id="fuzzed", address=ADDRESS, port=port,
        credentials=SnmpV2c(Secret(COMMUNITY)), interfaces=(watch(index=7),), ups=True,
        oids=(CustomOid("load", CUSTOM, "%", None, None),), timeout=0.3, retries=0,
        site="fuzz-site",
    )  # fmt: skip


async def open_responder() -> tuple[Responder, asyncio.BaseTransport, int]:
    port = free_udp_port(ADDRESS)
    responder = Responder()
    transport, _ = await asyncio.get_running_loop().create_datagram_endpoint(
        lambda: responder, local_addr=(ADDRESS, port)
    )
    return responder, transport, port


def check(name: str, case: Case, observation: SnmpObservation, counts: dict[str, int]) -> None:
    assert observation.failure is case.failure, (name, observation.error)
    assert {p.kind for p in observation.problems} == set(case.problems), name
    assert set(counts) == case.counted, (name, counts)
    assert all(n >= 1 for n in counts.values())


@pytest.mark.parametrize("name", list(CASES))
def test_it_survives_and_counts(name: str) -> None:
    case = CASES[name]

    async def main() -> tuple[SnmpObservation, dict[str, int]]:
        responder, transport, port = await open_responder()
        prober = SnmpProber()
        try:
            responder.fault = case.fault
            device = fuzz_device(port)
            observation = await prober.probe(device)
            return observation, prober.counts(device.key)
        finally:
            await prober.aclose()
            transport.close()

    observation, counts = asyncio.run(main())
    check(name, case, observation, counts)


def test_it_falls_back_to_32_bit_counters_when_hc_is_absent() -> None:
    async def main() -> list[SnmpObservation]:
        responder, transport, port = await open_responder()
        prober = SnmpProber()
        try:
            responder.fault = CASES["no_64_bit_counters"].fault
            device = fuzz_device(port)
            return [await prober.probe(device) for _ in range(2)]
        finally:
            await prober.aclose()
            transport.close()

    first, second = asyncio.run(main())
    for observation in (first, second):
        [reading] = observation.interfaces
        assert (reading.counter_bits, reading.in_octets, reading.out_octets) == (32, 1000, 2000)
    assert (first.requests, second.requests) == (2, 1)  # HC tried once, never again


def test_it_still_polls_a_good_agent_after_every_fault(snmp_agent: SnmpAgent) -> None:
    async def main() -> tuple[list[SnmpObservation], SnmpObservation]:
        responder, transport, port = await open_responder()
        prober = SnmpProber()
        try:
            device = fuzz_device(port)
            seen = []
            for case in CASES.values():
                responder.fault = case.fault
                seen.append(await prober.probe(device))
            return seen, await prober.probe(snmp_agent.v2c(watch("lo")))
        finally:
            await prober.aclose()
            transport.close()

    seen, good = asyncio.run(main())
    assert len(seen) == len(CASES)
    assert PollFailure.INTERNAL not in {o.failure for o in seen}
    assert good.error is None
    assert good.interfaces[0].oper_status == 1
