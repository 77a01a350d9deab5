"""The ICMP engine: one shared socket per address family for every target.

Why not icmplib's `async_multiping`: it opens a socket per target, and a raw
ICMP socket receives a copy of every ICMP packet on the host, so the work
grows with targets squared, buffers overflow (false loss), and replies
matched by (id, sequence) alone can make a dead host look alive. Here:

- one socket per family; replies are matched by (address, sequence) and a
  per-engine cookie in the payload; on raw sockets a kernel filter drops
  everything but our replies and ICMP errors;
- requests leave through a paced queue (a token bucket, like fping's
  interval), so a large round never bursts thousands of packets at once;
- receive times are the kernel's (SO_TIMESTAMPNS), so a busy event loop
  does not add its own delay to the RTT.

icmplib creates the sockets (and maps permission errors); the hot path is
our own, since icmplib resolves the address and sets TTL and TOS on every
send.
"""

from __future__ import annotations

import asyncio
import errno
import heapq
import itertools
import logging
import os
import secrets
import socket
import struct
import time
from dataclasses import dataclass
from enum import StrEnum

from icmplib import ICMPv4Socket, ICMPv6Socket
from icmplib.exceptions import ICMPSocketError, SocketPermissionError

from probes import icmpwire

log = logging.getLogger(__name__)

SO_TIMESTAMPNS = 35  # Linux: kernel receive time as struct timespec (socket(7))
SO_RXQ_OVFL = 40  # Linux: cumulative count of packets dropped on a full buffer
SO_RCVBUFFORCE = 33
IP_RECVERR = 11
IPV6_RECVERR = 25
MSG_ERRQUEUE = 0x2000
SO_EE_ORIGIN_ICMP = 2
SO_EE_ORIGIN_ICMP6 = 3

DEFAULT_MAX_RATE = 5000.0  # requests per second, all targets together
DEFAULT_RECEIVE_BUFFER = 4 << 20
_ANCILLARY_SPACE = 512
_RECEIVE_BATCH = 1024
_DROP_WARNING_EVERY = 60.0  # seconds between two warnings of buffer overflow
_STAMP_SLACK_NS = 1_000_000  # the two clocks are read apart: a kernel RTT may exceed ours by this
_TIMESPEC = struct.Struct("qq")
_EXTENDED_ERR = struct.Struct("IBBBBII")  # struct sock_extended_err


class SocketMode(StrEnum):
    AUTO = "auto"
    UNPRIVILEGED = "unprivileged"  # ping sockets: net.ipv4.ping_group_range
    RAW = "raw"  # needs CAP_NET_RAW


class PingerError(Exception):
    """The engine cannot send at all: no permission, no such family."""


@dataclass(frozen=True, slots=True)
class Echo:
    """One echo request and what became of it."""

    sequence: int
    sent_at: float | None  # wall clock, seconds since the epoch; None: never sent
    rtt: float | None  # seconds; None when lost
    lost: str | None = None  # why, when lost


@dataclass(slots=True)
class PingerStats:
    """Counters for the metrics module to read; only the event loop writes them."""

    sent: int = 0
    received: int = 0
    late: int = 0
    strays: int = 0
    send_errors: int = 0
    socket_drops: int = 0


class _Round:
    """The echoes of one target in flight; finished once each one is settled."""

    __slots__ = (
        "address",
        "channel",
        "count",
        "future",
        "ident",
        "interval",
        "lost",
        "rtt",
        "sent_mono_ns",
        "sent_ns",
        "sequences",
        "settled",
        "timeout",
        "timer",
    )

    def __init__(
        self,
        channel: _Channel,
        address: str,
        *,
        count: int,
        interval: float,
        timeout: float,
        future: asyncio.Future[tuple[Echo, ...]],
    ) -> None:
        self.channel = channel
        self.address = address
        self.count = count
        self.interval = interval
        self.timeout = timeout
        self.future = future
        self.sent_ns: list[int | None] = [None] * count
        self.sent_mono_ns: list[int] = [0] * count
        self.rtt: list[float | None] = [None] * count
        self.lost: list[str | None] = [None] * count
        self.sequences: list[int | None] = [None] * count
        self.settled = 0
        self.timer: asyncio.TimerHandle | None = None

    def echoes(self) -> tuple[Echo, ...]:
        return tuple(
            Echo(
                sequence=seq if seq is not None else -1,
                sent_at=ns / 1e9 if ns is not None else None,
                rtt=rtt,
                lost=lost if rtt is None else None,
            )
            for seq, ns, rtt, lost in zip(
                self.sequences, self.sent_ns, self.rtt, self.lost, strict=True
            )
        )


class _Channel:
    """One socket of one family, in one mode, and the requests in flight on it."""

    def __init__(
        self, family: int, raw: bool, payload_size: int, rcvbuf: int, device: str | None = None
    ) -> None:
        self.family = family
        self.device = device
        self.broken = False  # its device vanished: reopen before the next send
        self.raw = raw
        self.v6 = family == socket.AF_INET6
        factory = ICMPv6Socket if self.v6 else ICMPv4Socket
        self._icmp = factory(privileged=raw)
        self.sock: socket.socket = self._icmp.sock
        self.sock.setblocking(False)
        self.ident = secrets.randbelow(0xFFFF) + 1  # raw only: ping sockets get theirs
        self.cookie = secrets.token_bytes(8)
        payload = self.cookie + bytes(max(0, payload_size - len(self.cookie)))
        self.template = icmpwire.EchoTemplate(family, payload)
        self.inflight: dict[tuple[str, int], tuple[_Round, int]] = {}
        self._sequence = itertools.count(secrets.randbelow(0x10000))
        self._configure(rcvbuf)

    def _configure(self, rcvbuf: int) -> None:
        s = self.sock
        if self.device is not None:
            # Requests can then leave only through this interface: if it goes
            # away, sendto fails (ENODEV) instead of finding another route.
            s.setsockopt(socket.SOL_SOCKET, socket.SO_BINDTODEVICE, self.device.encode())
        s.setsockopt(socket.SOL_SOCKET, SO_TIMESTAMPNS, 1)
        s.setsockopt(socket.SOL_SOCKET, SO_RXQ_OVFL, 1)
        try:
            s.setsockopt(socket.SOL_SOCKET, SO_RCVBUFFORCE, rcvbuf)
        except PermissionError:
            s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
        if self.raw and not self.v6:
            icmpwire.attach_bpf(s, icmpwire.bpf_echo_filter_v4(self.ident))
        elif self.raw:
            passing = (
                icmpwire.ECHO_REPLY_V6,
                icmpwire.UNREACHABLE_V6,
                icmpwire.TOO_BIG_V6,
                icmpwire.TIME_EXCEEDED_V6,
            )
            s.setsockopt(
                socket.IPPROTO_ICMPV6, icmpwire.ICMP6_FILTER, icmpwire.icmp6_filter(passing)
            )
        else:
            # Ping sockets report ICMP errors on the error queue (ip(7) IP_RECVERR).
            level, option = (
                (socket.IPPROTO_IPV6, IPV6_RECVERR) if self.v6 else (socket.IPPROTO_IP, IP_RECVERR)
            )
            s.setsockopt(level, option, 1)

    @property
    def receive_buffer(self) -> int:
        return self.sock.getsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF)

    def next_sequence(self) -> int:
        return next(self._sequence) & 0xFFFF

    def sockaddr(self, address: str) -> tuple[str, int] | tuple[str, int, int, int]:
        return (address, 0, 0, 0) if self.v6 else (address, 0)

    def parse(self, data: bytes, source: str) -> icmpwire.Answer | None:
        if self.raw and not self.v6:
            answer = icmpwire.parse_v4_raw(data, source, self.cookie)
        else:
            answer = icmpwire.parse_icmp_only(data, source, self.cookie, self.v6)
        if answer is not None and self.raw and answer.ident != self.ident:
            return None  # another program's echo, or another examnet's
        return answer

    def close(self) -> None:
        self._icmp.close()


def _rtt(kernel_ns: int, monotonic_ns: int) -> float:
    """The round trip in seconds: the kernel's receive stamp, unless the wall clock moved.

    SO_TIMESTAMPNS stamps are wall-clock (CLOCK_REALTIME) time, so RTTs from
    them leave out the event loop's delays (NOTES). A step of the wall clock
    while an echo was in flight (NTP) would make that RTT negative or longer
    than the echo was with us; the monotonic delta, taken when we read the
    reply, is the honest upper bound then.
    """
    if 0 <= kernel_ns <= monotonic_ns + _STAMP_SLACK_NS:
        return kernel_ns / 1e9
    return monotonic_ns / 1e9


def _kernel_time_ns(ancillary: list[tuple[int, int, bytes]]) -> tuple[int | None, int | None]:
    """The receive timestamp and the drop counter from a recvmsg's ancillary data."""
    stamp = drops = None
    for level, kind, data in ancillary:
        if level != socket.SOL_SOCKET:
            continue
        if kind == SO_TIMESTAMPNS and len(data) >= _TIMESPEC.size:
            seconds, nanos = _TIMESPEC.unpack_from(data)
            stamp = seconds * 1_000_000_000 + nanos
        elif kind == SO_RXQ_OVFL and len(data) >= 4:
            drops = struct.unpack_from("I", data)[0]
    return stamp, drops


def _queued_error(ancillary: list[tuple[int, int, bytes]], v6: bool) -> str | None:
    """Words for an ICMP error taken from a ping socket's error queue."""
    for _level, _kind, data in ancillary:
        if len(data) < _EXTENDED_ERR.size:
            continue
        _errno, origin, icmp_type, code, _pad, _info, _data = _EXTENDED_ERR.unpack_from(data)
        if origin not in (SO_EE_ORIGIN_ICMP, SO_EE_ORIGIN_ICMP6):
            continue
        reporter = _offender(data[_EXTENDED_ERR.size :], v6)
        return icmpwire.error_text(v6, icmp_type, code, reporter)
    return None


def _offender(sockaddr: bytes, v6: bool) -> str | None:
    # SO_EE_OFFENDER: the sockaddr of the router that sent the error.
    try:
        if v6 and len(sockaddr) >= 24:
            return socket.inet_ntop(socket.AF_INET6, sockaddr[8:24])
        if not v6 and len(sockaddr) >= 8:
            return socket.inet_ntop(socket.AF_INET, sockaddr[4:8])
    except ValueError:
        return None
    return None


class Pinger:
    """Runs rounds of echo requests for many targets over shared sockets.

    Use from one event loop: `async with Pinger() as p: await p.ping(...)`.
    """

    def __init__(
        self,
        *,
        mode: SocketMode = SocketMode.AUTO,
        max_rate: float = DEFAULT_MAX_RATE,
        payload_size: int = 56,
        receive_buffer: int = DEFAULT_RECEIVE_BUFFER,
        bind_device: str | None = None,
    ) -> None:
        if max_rate <= 0:
            raise ValueError("max_rate must be positive")
        self.bind_device = bind_device
        self.requested_mode = mode
        self.max_rate = max_rate
        self.payload_size = max(payload_size, 8)
        self.receive_buffer = receive_buffer
        self.stats = PingerStats()
        self._channels: dict[int, _Channel] = {}
        self._modes: dict[int, SocketMode] = {}
        self._queue: list[tuple[float, int, _Round, int]] = []
        self._order = itertools.count()
        self._pump_handle: asyncio.TimerHandle | None = None
        self._pump_at = float("inf")
        self._tokens = 1.0
        self._burst = max(1.0, max_rate / 100)  # at most 10 ms worth at once
        self._refilled_at = 0.0
        self._loop: asyncio.AbstractEventLoop | None = None
        self._drops_seen: dict[int, int] = {}
        self._drop_warned_at = -_DROP_WARNING_EVERY

    async def __aenter__(self) -> Pinger:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        self.close()

    def mode(self, family: int) -> SocketMode | None:
        """The mode chosen for a family once its socket exists."""
        return self._modes.get(family)

    async def ping(
        self, address: str, *, count: int, interval: float, timeout: float
    ) -> tuple[Echo, ...]:
        """Send `count` echo requests `interval` apart to an IP address literal.

        Each request is answered within `timeout` of its sending or lost. The
        result lists every request, with its RTT or the reason it was lost.
        """
        family = socket.AF_INET6 if ":" in address else socket.AF_INET
        channel = self._channel(family)
        loop = asyncio.get_running_loop()
        future: asyncio.Future[tuple[Echo, ...]] = loop.create_future()
        round_ = _Round(
            channel, address, count=count, interval=interval, timeout=timeout, future=future
        )
        start = loop.time()
        for index in range(count):
            self._enqueue(start + index * interval, round_, index)
        try:
            return await future
        except asyncio.CancelledError:
            self._abandon(round_)
            raise

    # --- sockets -------------------------------------------------------------

    def _channel(self, family: int) -> _Channel:
        channel = self._channels.get(family)
        if channel is not None and channel.broken:
            self._retire(channel)
            channel = None
        if channel is None:
            channel = self._open(family)
            self._channels[family] = channel
            self._loop = asyncio.get_running_loop()
            self._loop.add_reader(channel.sock.fileno(), self._on_readable, channel)
        return channel

    def _retire(self, channel: _Channel) -> None:
        """Close a channel whose device vanished; its requests in flight are lost."""
        for round_, index in list(channel.inflight.values()):
            self._settle(round_, index, None, f"not answered: interface {channel.device} vanished")
        if self._loop is not None and not self._loop.is_closed():
            self._loop.remove_reader(channel.sock.fileno())
        channel.close()
        del self._channels[channel.family]

    def _open(self, family: int) -> _Channel:
        name = "IPv6" if family == socket.AF_INET6 else "IPv4"
        candidates = {
            SocketMode.AUTO: (SocketMode.UNPRIVILEGED, SocketMode.RAW),
            SocketMode.UNPRIVILEGED: (SocketMode.UNPRIVILEGED,),
            SocketMode.RAW: (SocketMode.RAW,),
        }[self.requested_mode]
        reasons = []
        for mode in candidates:
            try:
                channel = _Channel(
                    family,
                    mode is SocketMode.RAW,
                    self.payload_size,
                    self.receive_buffer,
                    self.bind_device,
                )
            except (SocketPermissionError, ICMPSocketError) as exc:
                reasons.append(f"{mode}: {exc}")
                continue
            except OSError as exc:
                raise PingerError(
                    f"cannot bind ICMP sockets to interface {self.bind_device}: "
                    f"{os.strerror(exc.errno or 0)}"
                ) from exc
            self._modes[family] = mode
            log.info(
                "ICMP %s: %s socket (receive buffer %d bytes)",
                name,
                mode,
                channel.receive_buffer,
            )
            return channel
        raise PingerError(
            f"cannot open an ICMP {name} socket ({'; '.join(reasons)}). Run as root, or "
            "allow ping sockets for this group: "
            'sysctl -w net.ipv4.ping_group_range="0 2147483647"'
        )

    def close(self) -> None:
        if self._pump_handle is not None:
            self._pump_handle.cancel()
            self._pump_handle = None
        for channel in self._channels.values():
            if self._loop is not None and not self._loop.is_closed():
                self._loop.remove_reader(channel.sock.fileno())
            channel.close()
        self._channels.clear()
        for _due, _order, round_, _index in self._queue:
            if not round_.future.done():
                round_.future.cancel()
        self._queue.clear()

    # --- sending -------------------------------------------------------------

    def _enqueue(self, due: float, round_: _Round, index: int) -> None:
        heapq.heappush(self._queue, (due, next(self._order), round_, index))
        if due < self._pump_at:
            self._schedule_pump(due)

    def _schedule_pump(self, when: float) -> None:
        if self._pump_handle is not None:
            self._pump_handle.cancel()
        loop = asyncio.get_running_loop()
        self._pump_at = when
        self._pump_handle = loop.call_at(when, self._pump)

    def _pump(self) -> None:
        """Send what is due, as fast as the token bucket allows."""
        self._pump_handle = None
        self._pump_at = float("inf")
        loop = asyncio.get_running_loop()
        now = loop.time()
        self._tokens = min(self._burst, self._tokens + (now - self._refilled_at) * self.max_rate)
        self._refilled_at = now
        queue = self._queue
        while queue and queue[0][0] <= now and self._tokens >= 1.0:
            _due, _order, round_, index = heapq.heappop(queue)
            if round_.future.done():
                continue
            self._tokens -= 1.0
            self._send(round_, index)
        if queue:
            wait_tokens = (1.0 - self._tokens) / self.max_rate if self._tokens < 1.0 else 0.0
            self._schedule_pump(max(queue[0][0], now + wait_tokens))

    def _send(self, round_: _Round, index: int) -> None:
        channel = round_.channel
        sequence = channel.next_sequence()
        round_.sequences[index] = sequence
        packet = channel.template.build(channel.ident, sequence)
        try:
            sent_ns, sent_mono_ns = self._transmit(channel, packet, round_.address)
        except OSError as exc:
            self.stats.send_errors += 1
            self._settle(round_, index, None, f"not sent: {os.strerror(exc.errno or 0)}")
        else:
            self.stats.sent += 1
            round_.sent_ns[index] = sent_ns
            round_.sent_mono_ns[index] = sent_mono_ns
            channel.inflight[(round_.address, sequence)] = (round_, index)
        if index == round_.count - 1 and round_.settled < round_.count:
            loop = asyncio.get_running_loop()
            round_.timer = loop.call_later(round_.timeout, self._expire, round_)

    def _transmit(self, channel: _Channel, packet: bytes, address: str) -> tuple[int, int]:
        """Send one request; the wall-clock and monotonic times just before it left."""
        sockaddr = channel.sockaddr(address)
        sent_ns, sent_mono_ns = time.time_ns(), time.monotonic_ns()
        try:
            channel.sock.sendto(packet, sockaddr)
        except OSError as exc:
            if exc.errno in (errno.ENODEV, errno.ENXIO):
                channel.broken = True  # its interface is gone: reopen for the next round
                raise
            if channel.raw:
                raise
            # A ping socket hands a pending ICMP error (about an earlier
            # request, maybe to another target) to whatever call comes next,
            # sendto included. Settle it from the error queue, then try once
            # more: only a second failure is this request's own.
            self._drain_errors(channel)
            sent_ns, sent_mono_ns = time.time_ns(), time.monotonic_ns()
            channel.sock.sendto(packet, sockaddr)
        return sent_ns, sent_mono_ns

    # --- receiving -----------------------------------------------------------

    def _on_readable(self, channel: _Channel) -> None:
        sock = channel.sock
        if not channel.raw:
            # epoll reports EPOLLERR for as long as the error queue holds
            # anything: empty it first, or this reader would spin.
            self._drain_errors(channel)
        # Bounded, so a flood of replies cannot starve the rest of the loop;
        # what is left wakes this reader again at once.
        for _ in range(_RECEIVE_BATCH):
            try:
                data, ancillary, _flags, source = sock.recvmsg(2048, _ANCILLARY_SPACE)
            except BlockingIOError:
                return
            except OSError as exc:
                # With IP_RECVERR an ICMP error is also returned once by a
                # plain receive; the details wait on the error queue.
                if exc.errno == errno.EBADF:
                    return
                self._drain_errors(channel)
                continue
            stamp, drops = _kernel_time_ns(ancillary)
            if drops is not None:
                self._count_drops(channel, drops)
            answer = channel.parse(data, source[0])
            if answer is None:
                self.stats.strays += 1
                continue
            self._answer(channel, answer, stamp if stamp is not None else time.time_ns())

    def _drain_errors(self, channel: _Channel) -> None:
        while True:
            try:
                data, ancillary, _flags, source = channel.sock.recvmsg(
                    2048, _ANCILLARY_SPACE, MSG_ERRQUEUE
                )
            except OSError:
                return
            reason = _queued_error(ancillary, channel.v6)
            if reason is None or len(data) < 8:
                continue
            sequence = struct.unpack_from("!H", data, 6)[0]
            self._answer(channel, icmpwire.Answer(source[0], 0, sequence, reason), time.time_ns())

    def _count_drops(self, channel: _Channel, total: int) -> None:
        previous = self._drops_seen.get(channel.family, 0)
        self._drops_seen[channel.family] = total
        if total <= previous:
            return
        self.stats.socket_drops += total - previous
        now = time.monotonic()
        if now - self._drop_warned_at >= _DROP_WARNING_EVERY:
            self._drop_warned_at = now
            log.warning(
                "ICMP receive buffer overflowed: %d replies dropped so far (examnet's own "
                "loss, not the network's); lower max_rate or raise the receive buffer",
                self.stats.socket_drops,
            )

    def _answer(self, channel: _Channel, answer: icmpwire.Answer, received_ns: int) -> None:
        pending = channel.inflight.pop((answer.destination, answer.sequence), None)
        if pending is None:
            self.stats.strays += 1
            return
        round_, index = pending
        sent_ns = round_.sent_ns[index]
        if answer.error is not None or sent_ns is None:
            self._settle(round_, index, None, answer.error)
            return
        rtt = _rtt(received_ns - sent_ns, time.monotonic_ns() - round_.sent_mono_ns[index])
        if rtt > round_.timeout:
            self.stats.late += 1
            self._settle(round_, index, None, f"late reply after {rtt * 1000:.0f} ms")
            return
        self.stats.received += 1
        self._settle(round_, index, rtt, None)

    # --- settling ------------------------------------------------------------

    def _settle(self, round_: _Round, index: int, rtt: float | None, lost: str | None) -> None:
        if round_.future.done():
            return
        round_.rtt[index] = rtt
        round_.lost[index] = lost
        round_.settled += 1
        if round_.settled == round_.count:
            self._finish(round_)

    def _expire(self, round_: _Round) -> None:
        """The last request's timeout passed: whatever is unanswered is lost."""
        for index in range(round_.count):
            if round_.rtt[index] is None and round_.lost[index] is None:
                round_.lost[index] = "timeout"
        self._finish(round_)

    def _finish(self, round_: _Round) -> None:
        if round_.timer is not None:
            round_.timer.cancel()
        self._forget(round_)
        if not round_.future.done():
            round_.future.set_result(round_.echoes())

    def _forget(self, round_: _Round) -> None:
        inflight = round_.channel.inflight
        for sequence in round_.sequences:
            if sequence is not None:
                key = (round_.address, sequence)
                if inflight.get(key, (None,))[0] is round_:
                    del inflight[key]

    def _abandon(self, round_: _Round) -> None:
        """The caller gave up (cancelled): drop its requests and timer."""
        if round_.timer is not None:
            round_.timer.cancel()
        self._forget(round_)
        round_.future.cancel()
