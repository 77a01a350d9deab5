"""The UDP sockets every SNMP request goes through, and what one request yields.

One socket per address family, shared by the v2c channel (`snmp_v2c`, its
own BER codec) and by pysnmp (SNMPv3): the socket is pysnmp's asyncio
transport, registered with the engine, so both send from one port and the
interface binding and receive buffer are set in one place. A datagram that
says SNMPv3 goes to pysnmp; any other goes to the v2c channel.

The tally counts the datagrams each address sent and those that were
understood (matched to a request of ours, by the channel or by pysnmp's
observer): a request that times out while its device did talk is reported
as a malformed answer, not as silence, or, when what it sent was a USM
report, named after the report. Each plaintext v3 report is also shown to
the session before pysnmp reads it (`snmp_usm`: an agent's new engine ID).
"""

from __future__ import annotations

import asyncio
import logging
import os
import socket
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from pysnmp.carrier.asyncio.dgram import udp, udp6
from pysnmp.entity import config
from pysnmp.hlapi.v3arch.asyncio.transport import Udp6TransportTarget, UdpTransportTarget

from probes.snmp_failures import Failure
from probes.snmpwire import UsmReport, UsmStat, decode_usm_report, message_version

log = logging.getLogger(__name__)

RECEIVE_BUFFER = 4 << 20
SO_RCVBUFFORCE = 33
SNMP_V3 = 3

Address = tuple[str, int]
Deliver = Callable[[bytes, Address, float], None]
OnReport = Callable[[Address, UsmReport], None]


@dataclass(frozen=True, slots=True)
class Answer:
    """One request's outcome: a failure, or the response PDU's contents."""

    failure: Failure | None
    varbinds: tuple[tuple[Any, Any], ...] = ()
    error_status: int = 0
    error_index: int = 0
    received_at: float = 0.0


class DatagramTally:
    """Datagrams each address sent us, and how many of them were understood."""

    def __init__(self) -> None:
        self.received: Counter[Address] = Counter()
        self.understood: Counter[Address] = Counter()
        self.engine_ids: dict[Address, Any] = {}  # from agents' discovery reports
        self.reports: Counter[Address] = Counter()  # USM reports, understood or not
        self.last_report: dict[Address, UsmStat] = {}

    def unusable(self, address: Address) -> int:
        return self.received[address] - self.understood[address]

    def reported(self, address: Address, stat: UsmStat) -> None:
        self.reports[address] += 1
        self.last_report[address] = stat

    def report_since(self, address: Address, seen: int) -> UsmStat | None:
        """What the address's last USM report said, if it came after `seen` reports."""
        return self.last_report.get(address) if self.reports[address] > seen else None

    def on_understood(self, _engine: object, _point: str, variables: dict[str, Any],
                      _context: object) -> None:  # fmt: skip
        """pysnmp's observer: it matched a datagram to a request of ours."""
        address = variables.get("transportAddress")
        if address is None:
            return
        self.understood[address_key(address)] += 1
        engine_id = variables.get("securityEngineId")
        if engine_id:
            self.engine_ids[address_key(address)] = engine_id


def address_key(address: Sequence[Any]) -> Address:
    """(host, port) of an IPv4 or IPv6 socket address."""
    return str(address[0]), int(address[1])


class _Socket:
    """Counts datagrams per source, sends v2c ones to the channel, the rest to pysnmp;
    never lets a bad one escape into the loop."""

    tally: DatagramTally | None = None
    bind_device: str | None = None
    v2c: Deliver | None = None
    on_report: OnReport | None = None
    refused = False  # the socket could not be bound to its interface: nothing is sent
    loop: asyncio.AbstractEventLoop
    transport: asyncio.DatagramTransport | None
    _callback_function: Any
    _writeQ: list[tuple[bytes, Any]]  # noqa: N815 - pysnmp's name

    def datagram_received(self, datagram: bytes, address: Any) -> None:
        source = address_key(address)
        if self.tally is not None:
            self.tally.received[source] += 1
        version = message_version(datagram)
        if self.v2c is not None and version != SNMP_V3:
            self.v2c(datagram, source, self.loop.time())
            return
        if version == SNMP_V3:
            self._report(datagram, source)
        self.loop.call_soon(self._deliver, datagram, address)

    def _report(self, datagram: bytes, source: Address) -> None:
        """A USM report is noted, and acted on before pysnmp reads it (`snmp_usm`)."""
        report = decode_usm_report(datagram)
        if report is None:
            return
        if self.tally is not None:
            self.tally.reported(source, report.stat)
        if self.on_report is None:
            return
        try:
            self.on_report(source, report)
        except Exception as exc:  # a bug of ours: the datagram still goes to pysnmp
            log.error("SNMP report from %s not acted on: %s", source[0], type(exc).__name__)  # noqa: TRY400

    def _deliver(self, datagram: bytes, address: Any) -> None:
        if self._callback_function is None:
            return
        try:
            self._callback_function(self, address, datagram)
        except Exception as exc:  # pysnmp choked on it: it is no answer
            log.debug("SNMP datagram from %s dropped: %s", address[0], type(exc).__name__)

    def send(self, datagram: bytes, address: Address) -> None:
        """Send, or queue until the socket is open; never through an unbound socket."""
        if self.refused:
            return
        if self.transport is None:
            self._writeQ.append((datagram, address))
        else:
            self.transport.sendto(datagram, address)

    def connection_made(self, transport: asyncio.DatagramTransport) -> None:
        sock = transport.get_extra_info("socket")
        if sock is not None and self.bind_device is not None:
            # Like the ICMP sockets: requests leave only through this interface,
            # and fail (ENODEV) rather than take another route if it goes away.
            try:
                sock.setsockopt(
                    socket.SOL_SOCKET, socket.SO_BINDTODEVICE, self.bind_device.encode()
                )
            except OSError as exc:
                log.error(  # noqa: TRY400 - an operator's fault, not a bug: no traceback
                    "SNMP socket not opened: cannot bind it to interface %s (%s); no poll is sent",
                    self.bind_device,
                    os.strerror(exc.errno or 0),
                )
                self.refused = True
                self._writeQ.clear()
                transport.close()
                return
        if sock is not None:
            try:
                sock.setsockopt(socket.SOL_SOCKET, SO_RCVBUFFORCE, RECEIVE_BUFFER)
            except PermissionError:
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, RECEIVE_BUFFER)
        super().connection_made(transport)  # type: ignore[misc]


class _Udp(_Socket, udp.UdpAsyncioTransport):  # type: ignore[misc]
    pass


class _Udp6(_Socket, udp6.Udp6AsyncioTransport):  # type: ignore[misc]
    pass


class Target(UdpTransportTarget):  # type: ignore[misc]
    PROTO_TRANSPORT = _Udp


class Target6(Udp6TransportTarget):  # type: ignore[misc]
    PROTO_TRANSPORT = _Udp6


def open_socket(engine: Any, target: Any, tally: DatagramTally, bind_device: str | None,
                v2c: Deliver, *, on_report: OnReport | None = None) -> _Socket:  # fmt: skip
    """The engine's socket for the target's address family, opened on first use.

    Registered with the engine before pysnmp's own configuration sees the
    family, so pysnmp uses it too; its settings are made before the loop
    opens it (asynchronously).
    """
    domain = target.TRANSPORT_DOMAIN
    existing = config.get_transport(engine, domain)
    if isinstance(existing, _Socket):
        return existing
    made: _Socket = target.PROTO_TRANSPORT()
    made.tally, made.bind_device, made.v2c = tally, bind_device, v2c
    made.on_report = on_report
    made.open_client_mode()  # type: ignore[attr-defined]
    config.add_transport(engine, domain, made)
    return made
