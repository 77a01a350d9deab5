"""The v2c channel: retries, matching answers to requests, and what a timeout means.

No network: the channel's `send` is recorded, and datagrams arrive as the
shared socket would hand them over (counted in the tally first). Timeouts
are a few hundredths of a second.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import TypeVar

from probes import snmpdata as oids
from probes import snmpwire as wire
from probes.snmp_failures import NO_ANSWER_V2C, UNUSABLE_ANSWERS
from probes.snmp_transport import Address, Answer, DatagramTally
from probes.snmp_v2c import REQUEST_ID_LIMIT, V2cChannel, V2cLink
from probes.snmpdata import PollFailure
from probes.snmpwire import Message, TimeTicks

DEVICE: Address = ("192.0.2.1", 161)
COMMUNITY = b"s3cret-community"
TIMEOUT = 0.03
T = TypeVar("T")


class Wire:
    """What the channel sent, and a way to answer as the socket would deliver it."""

    def __init__(self) -> None:
        self.tally = DatagramTally()
        self.channel = V2cChannel(self.tally)
        self.sent: list[tuple[bytes, Address]] = []

    def link(self, retries: int = 0) -> V2cLink:
        return V2cLink(DEVICE, COMMUNITY, TIMEOUT, retries, NO_ANSWER_V2C,
                       lambda d, a: self.sent.append((d, a)))  # fmt: skip

    def arrive(self, datagram: bytes, source: Address = DEVICE) -> None:
        self.tally.received[source] += 1
        self.channel.deliver(datagram, source, 123.0)

    def request(self, n: int = -1) -> Message:
        return wire.decode_message(self.sent[n][0])


def answer(request: Message, *, community: bytes = COMMUNITY,
           pdu_type: int = wire.RESPONSE, request_id: int | None = None) -> bytes:  # fmt: skip
    values = tuple((name, TimeTicks(42)) for name, _ in request.varbinds)
    rid = request.request_id if request_id is None else request_id
    return wire.encode_message(Message(community, pdu_type, rid, varbinds=values))


def run(work: Callable[[Wire], Awaitable[T]]) -> T:
    async def main() -> T:
        return await work(Wire())

    return asyncio.run(main())


async def ask(w: Wire, link: V2cLink) -> asyncio.Task[Answer]:
    task = asyncio.ensure_future(w.channel.get(link, [oids.SYS_UPTIME]))
    await asyncio.sleep(0)  # the request is sent
    return task


def test_it_sends_again_after_each_timeout_then_calls_it_no_answer() -> None:
    async def work(w: Wire) -> tuple[Answer, float, list[tuple[bytes, Address]]]:
        loop = asyncio.get_running_loop()
        began = loop.time()
        outcome = await w.channel.get(w.link(retries=2), [oids.SYS_UPTIME])
        return outcome, loop.time() - began, w.sent

    outcome, took, sent = run(work)
    assert outcome.failure is not None
    assert (outcome.failure.kind, outcome.failure.message) == (PollFailure.TIMEOUT, NO_ANSWER_V2C)
    assert took >= 3 * TIMEOUT  # timeout x (retries + 1), as pysnmp
    assert len(sent) == 3
    assert len({d for d, _ in sent}) == 1  # the same request, the same request-id
    assert {a for _, a in sent} == {DEVICE}


def test_it_takes_an_answer_to_a_retry() -> None:
    async def work(w: Wire) -> Answer:
        task = await ask(w, w.link(retries=1))
        await asyncio.sleep(TIMEOUT * 1.5)
        assert len(w.sent) == 2
        w.arrive(answer(w.request()))
        return await task

    outcome = run(work)
    assert outcome.failure is None
    assert outcome.varbinds == ((wire.oid_tuple(oids.SYS_UPTIME), 42),)
    assert outcome.received_at == 123.0  # when the datagram came, not when the poll woke


def test_it_takes_no_reply_from_another_address_whatever_its_request_id() -> None:
    async def work(w: Wire) -> Answer:
        task = await ask(w, w.link())
        w.arrive(answer(w.request()), source=("192.0.2.66", 161))
        w.arrive(answer(w.request()), source=(DEVICE[0], 1161))  # another port of the device
        return await task

    outcome = run(work)
    assert outcome.failure is not None
    assert outcome.failure.message == NO_ANSWER_V2C  # the device itself said nothing


def test_it_calls_a_timeout_malformed_when_the_device_sent_what_answers_nothing() -> None:
    def wrong(request: Message) -> list[bytes]:
        return [
            b"\x30\x03garbage",
            answer(request, community=b"someone-else"),
            answer(request, pdu_type=wire.GET),
            answer(request, request_id=request.request_id ^ 1),
        ]

    for index in range(4):

        async def work(w: Wire, index: int = index) -> Answer:
            task = await ask(w, w.link())
            w.arrive(wrong(w.request())[index])
            return await task

        outcome = run(work)
        assert outcome.failure is not None
        assert (outcome.failure.kind, outcome.failure.message) == (
            PollFailure.MALFORMED, UNUSABLE_ANSWERS,
        ), index  # fmt: skip


def test_it_counts_only_the_first_copy_of_an_answer_as_understood() -> None:
    async def work(w: Wire) -> DatagramTally:
        task = await ask(w, w.link())
        w.arrive(answer(w.request()))
        w.arrive(answer(w.request()))
        await task
        return w.tally

    tally = run(work)
    assert (tally.received[DEVICE], tally.understood[DEVICE]) == (2, 1)


def test_it_numbers_requests_from_a_counter_that_wraps_within_integer32() -> None:
    async def work(w: Wire) -> list[int]:
        w.channel._next_id = REQUEST_ID_LIMIT - 1
        tasks = [await ask(w, w.link()) for _ in range(3)]
        ids = [wire.decode_message(d).request_id for d, _ in w.sent]
        w.channel.close()
        await asyncio.gather(*tasks)
        return ids

    assert run(work) == [REQUEST_ID_LIMIT - 1, REQUEST_ID_LIMIT, 1]


def test_it_ends_requests_in_flight_as_unanswered_when_closed() -> None:
    async def work(w: Wire) -> Answer:
        task = await ask(w, V2cLink(DEVICE, COMMUNITY, 60.0, 0, NO_ANSWER_V2C, lambda d, a: None))
        w.channel.close()
        return await task

    outcome = run(work)
    assert outcome.failure is not None
    assert outcome.failure.kind is PollFailure.TIMEOUT


def test_it_keeps_the_community_out_of_a_links_repr() -> None:
    assert COMMUNITY.decode() not in repr(Wire().link())


def test_it_refuses_an_oid_no_agent_could_be_asked_for() -> None:
    async def work(w: Wire) -> Answer:
        return await w.channel.get(w.link(), ["1.3.6.1.4294967296"])

    outcome = run(work)
    assert outcome.failure is not None
    assert outcome.failure.kind is PollFailure.INTERNAL
    assert outcome.failure.message.startswith("cannot encode the request")
