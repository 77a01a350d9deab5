"""The SNMP wire: one pysnmp engine, its UDP sockets, and one call per request.

- One `SnmpEngine` for every device (a new engine costs ~58 ms of CPU), made
  lazily inside the running loop; one transport target per device address.
- Requests go through pysnmp's command generators (`entity.rfc3413.cmdgen`)
  with ready-made `ObjectName`s: the hlapi `get_cmd` resolves every varbind
  against the MIB tree first, which doubles the CPU of a 40-varbind GET.
- A semaphore bounds the requests in flight: the engine has one UDP socket,
  and past ~256 replies in flight its receive buffer overflows (NOTES).
- pysnmp drops what it cannot decode or match (garbage, a wrong request-id)
  and the request then times out. The engine's socket counts the datagrams
  each address sent and the engine's observer those it understood, so a
  timeout from a device that did talk is reported as a malformed answer.
"""

from __future__ import annotations

import asyncio
import functools
import ipaddress
import logging
import os
import socket
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from pyasn1.error import PyAsn1Error
from pysnmp.carrier.asyncio.dgram import udp, udp6
from pysnmp.entity import config
from pysnmp.entity.engine import SnmpEngine
from pysnmp.entity.rfc3413 import cmdgen
from pysnmp.error import PySnmpError
from pysnmp.hlapi.v3arch.asyncio.lcd import CommandGeneratorLcdConfigurator
from pysnmp.hlapi.v3arch.asyncio.transport import Udp6TransportTarget, UdpTransportTarget
from pysnmp.proto.rfc1902 import Null, ObjectName

from monitor.inventory import Device, SnmpV2c, SnmpV3
from probes import snmp_failures
from probes.snmp_auth import Credentials
from probes.snmp_failures import Failure
from probes.snmpdata import SYS_UPTIME, PollFailure

log = logging.getLogger(__name__)

DEFAULT_MAX_CONCURRENCY = 100
RECEIVE_BUFFER = 4 << 20
SO_RCVBUFFORCE = 33
_GRACE = 1.0  # seconds past pysnmp's own timeouts before a request is given up
_V3_EXCHANGES = 3  # a first v3 request may take engine discovery and a time sync too
_NULL = Null("")

# observer points where pysnmp has matched a datagram to a request of ours
_UNDERSTOOD = ("rfc3412.receiveMessage:response", "rfc3412.prepareDataElements:internal")


@functools.lru_cache(maxsize=1 << 16)
def object_name(oid: str) -> Any:
    """A parsed OID, made once: parsing the dotted text costs more than sending it."""
    return ObjectName(oid)


@dataclass(frozen=True, slots=True)
class Answer:
    """One request's outcome: a failure, or the response PDU's contents."""

    failure: Failure | None
    varbinds: tuple[tuple[Any, Any], ...] = ()
    error_status: int = 0
    error_index: int = 0
    received_at: float = 0.0


class DatagramTally:
    """Datagrams each address sent us, and how many of them pysnmp understood."""

    def __init__(self) -> None:
        self.received: Counter[tuple[str, int]] = Counter()
        self.understood: Counter[tuple[str, int]] = Counter()
        self.engine_ids: dict[tuple[str, int], Any] = {}  # from agents' discovery reports

    def unusable(self, address: tuple[str, int]) -> int:
        return self.received[address] - self.understood[address]

    def on_understood(self, _engine: object, _point: str, variables: dict[str, Any],
                      _context: object) -> None:  # fmt: skip
        address = variables.get("transportAddress")
        if address is None:
            return
        self.understood[_key(address)] += 1
        engine_id = variables.get("securityEngineId")
        if engine_id:
            self.engine_ids[_key(address)] = engine_id


def _key(address: Sequence[Any]) -> tuple[str, int]:
    return str(address[0]), int(address[1])


class _TallyingMixin:
    """Counts datagrams per source, and never lets a bad one escape into the loop."""

    tally: DatagramTally | None = None
    bind_device: str | None = None
    loop: asyncio.AbstractEventLoop
    _callback_function: Any

    def datagram_received(self, datagram: bytes, address: Any) -> None:
        self.loop.call_soon(self._deliver, datagram, address)

    def _deliver(self, datagram: bytes, address: Any) -> None:
        if self.tally is not None:
            self.tally.received[_key(address)] += 1
        if self._callback_function is None:
            return
        try:
            self._callback_function(self, address, datagram)
        except Exception as exc:  # pysnmp choked on it: it is no answer
            log.debug("SNMP datagram from %s dropped: %s", address[0], type(exc).__name__)

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
                transport.close()
                return
        if sock is not None:
            try:
                sock.setsockopt(socket.SOL_SOCKET, SO_RCVBUFFORCE, RECEIVE_BUFFER)
            except PermissionError:
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, RECEIVE_BUFFER)
        super().connection_made(transport)  # type: ignore[misc]


class _Udp(_TallyingMixin, udp.UdpAsyncioTransport):  # type: ignore[misc]
    pass


class _Udp6(_TallyingMixin, udp6.Udp6AsyncioTransport):  # type: ignore[misc]
    pass


class _Target(UdpTransportTarget):  # type: ignore[misc]
    PROTO_TRANSPORT = _Udp


class _Target6(Udp6TransportTarget):  # type: ignore[misc]
    PROTO_TRANSPORT = _Udp6


@dataclass(frozen=True, slots=True)
class _Link:
    """What a device's requests need: pysnmp's target name and where answers come from."""

    target_name: str
    address: tuple[str, int]
    silence: str  # what no answer may mean for these credentials
    budget: float


class SnmpSession:
    """Sends GET and GETBULK requests for any number of devices over one engine."""

    def __init__(
        self, max_concurrency: int = DEFAULT_MAX_CONCURRENCY, *, bind_device: str | None = None
    ) -> None:
        if max_concurrency < 1:
            raise ValueError("max_concurrency must be at least 1")
        self.max_concurrency = max_concurrency
        self.bind_device = bind_device
        self.credentials = Credentials()  # .revealed: every secret given to pysnmp
        self.tally = DatagramTally()
        self._slots: asyncio.Semaphore | None = None
        self._engine: Any = None
        self._lcd = CommandGeneratorLcdConfigurator()
        self._links: dict[tuple[object, ...], _Link] = {}
        self._configuring: dict[tuple[object, ...], asyncio.Future[_Link | Failure]] = {}
        self._targets: dict[tuple[object, ...], Any] = {}
        self._get = cmdgen.GetCommandGenerator()
        self._bulk = cmdgen.BulkCommandGenerator()

    async def get(self, device: Device, oids: Sequence[str]) -> Answer:
        return await self._request(device, self._get, (), oids)

    async def bulk(self, device: Device, oids: Sequence[str], repetitions: int) -> Answer:
        """One GETBULK (RFC 3416 4.2.3), no non-repeaters: `repetitions` rows of each OID."""
        return await self._request(device, self._bulk, (0, repetitions), oids)

    async def aclose(self) -> None:
        engine, self._engine = self._engine, None
        self._links.clear()
        self._targets.clear()
        if engine is not None:
            engine.observer.unregister_observer()
            engine.close_dispatcher()

    # --- one request ---------------------------------------------------------

    async def _request(self, device: Device, generator: Any, bulk: tuple[int, ...],
                       oids: Sequence[str]) -> Answer:  # fmt: skip
        if self._slots is None:
            self._slots = asyncio.Semaphore(self.max_concurrency)
        async with self._slots:
            silence = snmp_failures.silence(device.credentials)
            try:
                link = await self._link(device)
                if isinstance(link, Failure):
                    return Answer(link, received_at=_now())
                return await self._exchange(link, generator, bulk, oids)
            except (PySnmpError, PyAsn1Error) as exc:
                return Answer(snmp_failures.from_exception(exc, silence), received_at=_now())

    async def _exchange(self, link: _Link, generator: Any, bulk: tuple[int, ...],
                        oids: Sequence[str]) -> Answer:  # fmt: skip
        loop = asyncio.get_running_loop()
        future: asyncio.Future[tuple[Any, ...]] = loop.create_future()
        varbinds = [(object_name(oid), _NULL) for oid in oids]
        received, unusable = self.tally.received[link.address], self.tally.unusable(link.address)
        generator.send_varbinds(
            self._engine, link.target_name, None, b"", *bulk, varbinds, _settle, future
        )
        try:
            indication, status, index, answered = await asyncio.wait_for(future, link.budget)
        except TimeoutError:  # pysnmp never called back: it choked on what came
            talked = self.tally.received[link.address] > received
            return Answer(_silent_or_garbled(talked, link.silence), received_at=loop.time())
        if indication:
            failure = snmp_failures.from_indication(indication, link.silence)
            if failure.kind is PollFailure.TIMEOUT:
                garbled = self.tally.unusable(link.address) > unusable
                failure = _silent_or_garbled(garbled, link.silence)
            return Answer(failure, received_at=loop.time())
        return Answer(None, tuple(answered), int(status or 0), int(index or 0), loop.time())

    # --- engine, targets, credentials ------------------------------------------

    def _ensure_engine(self) -> Any:
        if self._engine is None:
            engine = SnmpEngine()
            engine.observer.register_observer(self.tally.on_understood, *_UNDERSTOOD)
            self._engine = engine
        return self._engine

    async def _link(self, device: Device) -> _Link | Failure:
        """The device's link, configured once even when its first polls overlap."""
        key = (device.address, device.port, device.timeout, device.retries, device.credentials)
        link = self._links.get(key)
        if link is not None:
            return link
        task = self._configuring.get(key)
        if task is None:
            task = asyncio.ensure_future(self._configure(device))
            self._configuring[key] = task
            task.add_done_callback(lambda done: self._configured(key, done))
        outcome = await asyncio.shield(task)
        if not isinstance(outcome, Failure):  # a failure is not kept: the next poll tries again
            self._links[key] = outcome
        return outcome

    def _configured(self, key: tuple[object, ...], task: asyncio.Future[_Link | Failure]) -> None:
        self._configuring.pop(key, None)
        if not task.cancelled():
            task.exception()  # retrieved here too: its waiters may all have gone

    async def _configure(self, device: Device) -> _Link | Failure:
        credentials = device.credentials
        if isinstance(credentials, SnmpV2c):
            return await self._register(device, self.credentials.community(credentials))
        if not self.credentials.needs_engine_id(credentials):
            return await self._register(device, self.credentials.usm(credentials))
        engine_id = await self._discover(device)
        if isinstance(engine_id, Failure):
            return engine_id
        return await self._register(device, self.credentials.usm(credentials, engine_id))

    async def _target(self, device: Device) -> Any:
        """One transport target per device address (and timeout and retries)."""
        key = (device.address, device.port, device.timeout, device.retries)
        target = self._targets.get(key)
        if target is None:
            factory = _Target6 if _is_ipv6(device.address) else _Target
            target = await factory.create(
                (device.address, device.port), timeout=device.timeout, retries=device.retries
            )
            self._targets[key] = target
        return target

    async def _discover(self, device: Device) -> Any:
        """The agent's snmpEngineID, from the first exchange of a request that reads nothing."""
        link = await self._register(device, self.credentials.discovery())
        answer = await self._exchange(link, self._get, (), [SYS_UPTIME])
        engine_id = self.tally.engine_ids.get(link.address)
        if engine_id is None:
            return answer.failure or snmp_failures.unusable_answers()
        return engine_id

    async def _register(self, device: Device, auth_data: Any) -> _Link:
        engine = self._ensure_engine()
        target = await self._target(device)
        target_name, _params = self._lcd.configure(engine, auth_data, target, b"")
        transport = config.get_transport(engine, target.TRANSPORT_DOMAIN)
        if isinstance(transport, _TallyingMixin):
            # set before the loop opens its socket (pysnmp opens it asynchronously)
            transport.tally = self.tally
            transport.bind_device = self.bind_device
        exchanges = _V3_EXCHANGES if isinstance(device.credentials, SnmpV3) else 1
        budget = exchanges * device.poll_budget + _GRACE
        silence = snmp_failures.silence(device.credentials)
        return _Link(target_name, _key(target.transport_address), silence, budget)


def _settle(*args: Any) -> None:
    """pysnmp's callback: (engine, handle, indication, status, index, varbinds, future)."""
    future: asyncio.Future[tuple[Any, ...]] = args[-1]
    if not future.done():
        future.set_result(args[2:6])


def _silent_or_garbled(talked: bool, silence: str) -> Failure:
    """A timeout from a device that did send us something: what it sent was unusable."""
    return snmp_failures.unusable_answers() if talked else snmp_failures.no_answer(silence)


def _is_ipv6(address: str) -> bool:
    try:
        return ipaddress.ip_address(address).version == 6
    except ValueError:
        return False


def _now() -> float:
    return asyncio.get_running_loop().time()
