"""The SNMP session: one socket per address family, and one call per request.

- SNMPv2c requests go through our own channel (`snmp_v2c`): pyasn1 would
  spend ~5 ms of CPU decoding one 40-varbind answer, ten times the rest of
  a poll. SNMPv3 (USM, ciphers) stays with pysnmp.
- One `SnmpEngine` for every device (a new engine costs ~58 ms of CPU), made
  lazily inside the running loop; its UDP sockets carry the v2c requests too
  (`snmp_transport`). One transport target per device address.
- pysnmp requests go through its command generators (`entity.rfc3413.cmdgen`)
  with ready-made `ObjectName`s: the hlapi `get_cmd` resolves every varbind
  against the MIB tree first, which doubles the CPU of a 40-varbind GET.
- A semaphore bounds the requests in flight, v2c and v3 together: past ~256
  replies in flight a socket's receive buffer overflows (NOTES).
- pysnmp drops what it cannot decode or match (garbage, a wrong request-id)
  and the request then times out. The tally counts the datagrams each
  address sent and those understood, so a timeout from a device that did
  talk is reported as a malformed answer; the v2c channel does the same.
- An agent that restarted with a new engine ID is re-discovered within the
  poll, from its usmStatsUnknownEngineIDs report (`snmp_usm`): pysnmp alone
  would keep the old engine ID for good.
"""

from __future__ import annotations

import asyncio
import functools
import ipaddress
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from pyasn1.error import PyAsn1Error
from pysnmp.entity.engine import SnmpEngine
from pysnmp.entity.rfc3413 import cmdgen
from pysnmp.error import PySnmpError
from pysnmp.hlapi.v3arch.asyncio.lcd import CommandGeneratorLcdConfigurator
from pysnmp.proto.rfc1902 import Null, ObjectName

from monitor.model.inventory import Device, SnmpV2c, SnmpV3
from probes import snmp_failures
from probes.snmp_auth import Credentials
from probes.snmp_failures import Failure
from probes.snmp_transport import (
    Address,
    Answer,
    DatagramTally,
    Target,
    Target6,
    address_key,
    open_socket,
)
from probes.snmp_usm import EngineWatch
from probes.snmp_v2c import V2cChannel, V2cLink
from probes.snmpdata import SYS_UPTIME, PollFailure
from probes.snmpwire import UsmReport

__all__ = ["DEFAULT_MAX_CONCURRENCY", "Answer", "SnmpSession", "object_name"]

DEFAULT_MAX_CONCURRENCY = 100
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
class _Link:
    """What a v3 device's requests need: pysnmp's target name and where answers come from."""

    target_name: str
    address: tuple[str, int]
    silence: str  # what no answer may mean for these credentials
    budget: float


class SnmpSession:
    """Sends GET and GETBULK requests for any number of devices: v2c over our own
    channel, v3 over one pysnmp engine, through the same sockets."""

    def __init__(
        self, max_concurrency: int = DEFAULT_MAX_CONCURRENCY, *, bind_device: str | None = None
    ) -> None:
        if max_concurrency < 1:
            raise ValueError("max_concurrency must be at least 1")
        self.max_concurrency = max_concurrency
        self.bind_device = bind_device
        self.credentials = Credentials()  # .revealed: every secret put in a packet
        self.tally = DatagramTally()
        self._channel = V2cChannel(self.tally)
        self._slots: asyncio.Semaphore | None = None
        self._engine: Any = None
        self._lcd = CommandGeneratorLcdConfigurator()
        self._links: dict[tuple[object, ...], _Link | V2cLink] = {}
        self._configuring: dict[tuple[object, ...], asyncio.Future[_Link | V2cLink | Failure]] = {}
        self._targets: dict[tuple[object, ...], Any] = {}
        self._get = cmdgen.GetCommandGenerator()
        self._bulk = cmdgen.BulkCommandGenerator()
        self._engines = EngineWatch(self._register_user)

    async def get(self, device: Device, oids: Sequence[str]) -> Answer:
        return await self._request(device, oids, None)

    async def bulk(self, device: Device, oids: Sequence[str], repetitions: int) -> Answer:
        """One GETBULK (RFC 3416 4.2.3), no non-repeaters: `repetitions` rows of each OID."""
        return await self._request(device, oids, repetitions)

    async def aclose(self) -> None:
        self._channel.close()
        engine, self._engine = self._engine, None
        self._links.clear()
        self._targets.clear()
        if engine is not None:
            engine.observer.unregister_observer()
            engine.close_dispatcher()

    # --- one request ---------------------------------------------------------

    async def _request(self, device: Device, oids: Sequence[str],
                       repetitions: int | None) -> Answer:  # fmt: skip
        if self._slots is None:
            self._slots = asyncio.Semaphore(self.max_concurrency)
        async with self._slots:
            silence = snmp_failures.silence(device.credentials)
            try:
                link = await self._link(device)
                if isinstance(link, Failure):
                    return Answer(link, received_at=_now())
                if isinstance(link, V2cLink):
                    return await self._v2c(link, oids, repetitions)
                return await self._exchange(link, oids, repetitions)
            except (PySnmpError, PyAsn1Error) as exc:
                return Answer(snmp_failures.from_exception(exc, silence), received_at=_now())

    async def _v2c(self, link: V2cLink, oids: Sequence[str], repetitions: int | None) -> Answer:
        if repetitions is None:
            return await self._channel.get(link, oids)
        return await self._channel.bulk(link, oids, repetitions)

    async def _exchange(self, link: _Link, oids: Sequence[str],
                        repetitions: int | None) -> Answer:  # fmt: skip
        loop = asyncio.get_running_loop()
        future: asyncio.Future[tuple[Any, ...]] = loop.create_future()
        varbinds = [(object_name(oid), _NULL) for oid in oids]
        generator, bulk = (self._get, ()) if repetitions is None else (self._bulk, (0, repetitions))
        tally, address = self.tally, link.address
        received, unusable, reports = (tally.received[address], tally.unusable(address),
                                       tally.reports[address])  # fmt: skip
        generator.send_varbinds(
            self._engine, link.target_name, None, b"", *bulk, varbinds, _settle, future
        )
        self._engines.pending[address] += 1
        try:
            indication, status, index, answered = await asyncio.wait_for(future, link.budget)
        except TimeoutError:  # pysnmp never called back: it choked on what came
            talked = tally.received[address] > received
            report = tally.report_since(address, reports)
            failure = snmp_failures.silent_or_garbled(talked, link.silence, report)
            return Answer(failure, received_at=loop.time())
        finally:
            self._engines.pending[address] -= 1
        if indication:
            failure = snmp_failures.from_indication(indication, link.silence)
            if failure.kind is PollFailure.TIMEOUT:
                garbled = tally.unusable(address) > unusable
                report = tally.report_since(address, reports)
                failure = snmp_failures.silent_or_garbled(garbled, link.silence, report)
            return Answer(failure, received_at=loop.time())
        return Answer(None, tuple(answered), int(status or 0), int(index or 0), loop.time())

    # --- engine, sockets, targets, credentials -------------------------------------

    def _ensure_engine(self) -> Any:
        if self._engine is None:
            engine = SnmpEngine()
            engine.observer.register_observer(self.tally.on_understood, *_UNDERSTOOD)
            self._engine = engine
        return self._engine

    def _socket(self, target: Any) -> Any:
        return open_socket(self._ensure_engine(), target, self.tally, self.bind_device,
                           self._channel.deliver, on_report=self._on_report)  # fmt: skip

    def _on_report(self, address: Address, report: UsmReport) -> None:
        if self._engine is not None:
            self._engines.on_report(self._engine, address, report)

    def _register_user(self, target: Any, credentials: SnmpV3, engine_id: bytes) -> None:
        """A row for the user under an agent's engine ID, its keys localised to it."""
        auth_data = self.credentials.usm(credentials, engine_id)
        self._lcd.configure(self._engine, auth_data, target, b"")

    async def _link(self, device: Device) -> _Link | V2cLink | Failure:
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

    def _configured(self, key: tuple[object, ...],
                    task: asyncio.Future[_Link | V2cLink | Failure]) -> None:  # fmt: skip
        self._configuring.pop(key, None)
        if not task.cancelled():
            task.exception()  # retrieved here too: its waiters may all have gone

    async def _configure(self, device: Device) -> _Link | V2cLink | Failure:
        credentials = device.credentials
        if isinstance(credentials, SnmpV2c):
            return await self._v2c_link(device, credentials)
        if not self.credentials.needs_engine_id(credentials):
            link = await self._register(device, self.credentials.usm(credentials))
        else:
            engine_id = await self._discover(device)
            if isinstance(engine_id, Failure):
                return engine_id
            link = await self._register(device, self.credentials.usm(credentials, engine_id))
        self._engines.watch(link.address, credentials, await self._target(device))
        return link

    async def _v2c_link(self, device: Device, credentials: SnmpV2c) -> V2cLink:
        target = await self._target(device)
        return V2cLink(
            address=address_key(target.transport_address),
            community=self.credentials.community_octets(credentials),
            timeout=device.timeout,
            retries=device.retries,
            silence=snmp_failures.silence(credentials),
            send=self._socket(target).send,
        )

    async def _target(self, device: Device) -> Any:
        """One transport target per device address (and timeout and retries)."""
        key = (device.address, device.port, device.timeout, device.retries)
        target = self._targets.get(key)
        if target is None:
            factory = Target6 if _is_ipv6(device.address) else Target
            target = await factory.create(
                (device.address, device.port), timeout=device.timeout, retries=device.retries
            )
            self._targets[key] = target
        return target

    async def _discover(self, device: Device) -> Any:
        """The agent's snmpEngineID, from the first exchange of a request that reads nothing."""
        link = await self._register(device, self.credentials.discovery())
        answer = await self._exchange(link, [SYS_UPTIME], None)
        engine_id = self.tally.engine_ids.get(link.address)
        if engine_id is None:
            return answer.failure or snmp_failures.unusable_answers()
        return engine_id

    async def _register(self, device: Device, auth_data: Any) -> _Link:
        target = await self._target(device)
        self._socket(target)  # ours, before pysnmp would open one of its own
        target_name, _params = self._lcd.configure(self._engine, auth_data, target, b"")
        budget = _V3_EXCHANGES * device.poll_budget + _GRACE
        silence = snmp_failures.silence(device.credentials)
        return _Link(target_name, address_key(target.transport_address), silence, budget)


def _settle(*args: Any) -> None:
    """pysnmp's callback: (engine, handle, indication, status, index, varbinds, future)."""
    future: asyncio.Future[tuple[Any, ...]] = args[-1]
    if not future.done():
        future.set_result(args[2:6])


def _is_ipv6(address: str) -> bool:
    try:
        return ipaddress.ip_address(address).version == 6
    except ValueError:
        return False


def _now() -> float:
    return asyncio.get_running_loop().time()
