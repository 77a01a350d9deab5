"""SNMPv2c requests without pysnmp: our own BER (`snmpwire`) over the shared socket.

pysnmp spends ~90 % of a v2c poll's CPU in pyasn1; v2c has no security
processing to keep, so its requests are encoded, matched and decoded here.
Semantics are pysnmp's: a request is sent, and sent again after each
`timeout` until `retries` are spent (no answer after timeout x (retries+1)).

An answer is a Response PDU from the very (address, port) the request went
to, with its request-id and community; anything else from a polled address
(undecodable, an unknown request-id, another PDU type) is left in the
tally as unusable, so a later timeout says "malformed answer". A reply from
another address never answers a request, whatever its request-id.
"""

from __future__ import annotations

import asyncio
import logging
import secrets
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from probes import snmp_failures, snmpwire
from probes.snmp_failures import Failure
from probes.snmp_transport import Address, Answer, DatagramTally
from probes.snmpdata import PollFailure
from probes.snmpwire import Message, WireError

log = logging.getLogger(__name__)

REQUEST_ID_LIMIT = 2**31 - 1  # request-id is an Integer32 (RFC 3416 3); ours stay positive

Send = Callable[[bytes, Address], None]


@dataclass(frozen=True, slots=True)
class V2cLink:
    """What a v2c device's requests need. The community travels in packets only."""

    address: Address  # resolved: answers must come from here
    community: bytes = field(repr=False)
    timeout: float
    retries: int
    silence: str  # what no answer means: "no answer (wrong community or device down)"
    send: Send = field(repr=False, compare=False)


@dataclass(slots=True)
class _Pending:
    """A request in flight: its datagram, the tries left, the answer when it comes."""

    link: V2cLink
    datagram: bytes = field(repr=False)  # it holds the community
    future: asyncio.Future[tuple[Message, float] | None]
    tries_left: int
    timer: asyncio.TimerHandle | None = None


class V2cChannel:
    """Every v2c request of the session, matched by (address, port, request-id)."""

    def __init__(self, tally: DatagramTally) -> None:
        self.tally = tally
        self._pending: dict[tuple[str, int, int], _Pending] = {}
        self._next_id = 1 + secrets.randbelow(REQUEST_ID_LIMIT)  # not guessable off-path

    async def get(self, link: V2cLink, oids: Sequence[str]) -> Answer:
        return await self._request(link, lambda i: snmpwire.encode_get(link.community, i, oids))

    async def bulk(self, link: V2cLink, oids: Sequence[str], repetitions: int) -> Answer:
        """One GETBULK (RFC 3416 4.2.3), no non-repeaters: `repetitions` rows of each OID."""
        return await self._request(
            link, lambda i: snmpwire.encode_bulk(link.community, i, oids, repetitions)
        )

    def deliver(self, datagram: bytes, source: Address, received_at: float) -> None:
        """A datagram that is not SNMPv3, from `source`: an answer of ours, or unusable."""
        try:
            message = snmpwire.decode_message(datagram)
        except WireError as exc:
            log.debug("SNMP datagram from %s dropped: %s", source[0], exc)
            return
        pending = self._pending.get((source[0], source[1], message.request_id))
        if pending is None or pending.future.done() or not _answers(message, pending.link):
            log.debug("SNMP datagram from %s dropped: it answers no request", source[0])
            return
        self.tally.understood[source] += 1
        pending.future.set_result((message, received_at))

    def close(self) -> None:
        """Requests still in flight end as unanswered."""
        for pending in list(self._pending.values()):
            self._settle(pending, None)

    # --- one request -------------------------------------------------------------

    async def _request(self, link: V2cLink, encode: Callable[[int], bytes]) -> Answer:
        request_id = self._next_id
        self._next_id = request_id % REQUEST_ID_LIMIT + 1
        try:
            datagram = encode(request_id)
        except WireError as exc:  # an OID no agent could be asked for (the config let it by)
            failure = Failure(PollFailure.INTERNAL, f"cannot encode the request: {exc}", True)
            return Answer(failure, received_at=asyncio.get_running_loop().time())
        return await self._exchange(link, request_id, datagram)

    async def _exchange(self, link: V2cLink, request_id: int, datagram: bytes) -> Answer:
        loop = asyncio.get_running_loop()
        key = (link.address[0], link.address[1], request_id)
        pending = _Pending(link, datagram, loop.create_future(), link.retries + 1)
        self._pending[key] = pending
        unusable = self.tally.unusable(link.address)
        try:
            self._try(pending)
            outcome = await pending.future
        finally:
            self._pending.pop(key, None)
            if pending.timer is not None:
                pending.timer.cancel()
        if outcome is None:
            garbled = self.tally.unusable(link.address) > unusable
            return Answer(snmp_failures.silent_or_garbled(garbled, link.silence),
                          received_at=loop.time())  # fmt: skip
        message, received_at = outcome
        return Answer(None, message.varbinds, message.error_status, message.error_index,
                      received_at)  # fmt: skip

    def _try(self, pending: _Pending) -> None:
        """Send once more, or give up: the last try has had its `timeout`."""
        if pending.future.done():
            return
        if pending.tries_left == 0:
            self._settle(pending, None)
            return
        pending.tries_left -= 1
        # armed first: a send that fails in a timer's callback still ends in a timeout
        loop = pending.future.get_loop()
        pending.timer = loop.call_later(pending.link.timeout, self._try, pending)
        pending.link.send(pending.datagram, pending.link.address)

    @staticmethod
    def _settle(pending: _Pending, outcome: tuple[Message, float] | None) -> None:
        if not pending.future.done():
            pending.future.set_result(outcome)


def _answers(message: Message, link: V2cLink) -> bool:
    """RFC 3416 4.2: a Response PDU; RFC 1901: in the community it was asked in."""
    return message.pdu_type == snmpwire.RESPONSE and message.community == link.community
