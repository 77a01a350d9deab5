"""ICMP and ICMPv6 echo on the wire: build requests, read replies and errors.

Pure functions over bytes, so the engine in `probes.pinger` stays about
timing and bookkeeping. Layouts are RFC 792 (ICMP) and RFC 4443 (ICMPv6).
"""

from __future__ import annotations

import ctypes
import socket
import struct
from dataclasses import dataclass

ECHO_REQUEST_V4 = 8
ECHO_REPLY_V4 = 0
UNREACHABLE_V4 = 3
TIME_EXCEEDED_V4 = 11

ECHO_REQUEST_V6 = 128
ECHO_REPLY_V6 = 129
UNREACHABLE_V6 = 1
TOO_BIG_V6 = 2
TIME_EXCEEDED_V6 = 3

_HEADER = struct.Struct("!BBHHH")
_ID_SEQ = struct.Struct("!HH")

_UNREACHABLE_V4 = {
    0: "network unreachable",
    1: "host unreachable",
    2: "protocol unreachable",
    3: "port unreachable",
    4: "fragmentation needed",
    6: "network unknown",
    7: "host unknown",
    9: "network administratively prohibited",
    10: "host administratively prohibited",
    13: "administratively prohibited",
}
_UNREACHABLE_V6 = {
    0: "no route to destination",
    1: "administratively prohibited",
    3: "address unreachable",
    4: "port unreachable",
    5: "source address failed policy",
    6: "reject route",
}


@dataclass(frozen=True, slots=True)
class Answer:
    """A parsed packet that concerns one of our echo requests."""

    destination: str  # the address our request went to
    ident: int
    sequence: int
    error: str | None  # None for an echo reply, else why the request failed


def ones_complement_sum(data: bytes) -> int:
    """The 16-bit one's complement sum of RFC 1071, not yet inverted."""
    if len(data) % 2:
        data += b"\x00"
    total: int = sum(struct.unpack(f"!{len(data) // 2}H", data))
    while total >> 16:
        total = (total & 0xFFFF) + (total >> 16)
    return total


class EchoTemplate:
    """Echo requests with a fixed payload: only id and sequence vary.

    The payload's share of the checksum is summed once, so building a
    request costs two additions instead of a pass over the bytes.
    """

    __slots__ = ("_echo_type", "_payload", "_payload_sum")

    def __init__(self, family: int, payload: bytes) -> None:
        self._echo_type = ECHO_REQUEST_V6 if family == socket.AF_INET6 else ECHO_REQUEST_V4
        self._payload = payload
        self._payload_sum = ones_complement_sum(payload)

    def build(self, ident: int, sequence: int) -> bytes:
        # The kernel fills the checksum for ICMPv6 (RFC 3542) and for ping
        # sockets; computing it anyway keeps one code path and is cheap.
        total = self._payload_sum + (self._echo_type << 8) + ident + sequence
        while total >> 16:
            total = (total & 0xFFFF) + (total >> 16)
        checksum = ~total & 0xFFFF
        return _HEADER.pack(self._echo_type, 0, checksum, ident, sequence) + self._payload


def error_text(v6: bool, icmp_type: int, code: int, reporter: str | None) -> str:
    """Words for an ICMP error, as an operator would say them."""
    if v6:
        if icmp_type == UNREACHABLE_V6:
            what = "destination unreachable: " + _UNREACHABLE_V6.get(code, f"code {code}")
        elif icmp_type == TIME_EXCEEDED_V6:
            what = "time exceeded in transit"
        elif icmp_type == TOO_BIG_V6:
            what = "packet too big"
        else:
            what = f"ICMPv6 error type {icmp_type} code {code}"
    elif icmp_type == UNREACHABLE_V4:
        what = "destination unreachable: " + _UNREACHABLE_V4.get(code, f"code {code}")
    elif icmp_type == TIME_EXCEEDED_V4:
        what = "time exceeded in transit"
    else:
        what = f"ICMP error type {icmp_type} code {code}"
    return f"{what} (reported by {reporter})" if reporter else what


def _echo_fields(icmp: bytes, cookie: bytes) -> tuple[int, int] | None:
    if len(icmp) < 8 + len(cookie) or icmp[8 : 8 + len(cookie)] != cookie:
        return None
    ident, sequence = _ID_SEQ.unpack_from(icmp, 4)
    return ident, sequence


def parse_v4_raw(packet: bytes, source: str, cookie: bytes) -> Answer | None:
    """A packet from a raw IPv4 socket: IP header, then ICMP."""
    if len(packet) < 28:
        return None
    icmp = packet[(packet[0] & 0x0F) * 4 :]
    if not icmp:
        return None
    if icmp[0] == ECHO_REPLY_V4:
        fields = _echo_fields(icmp, cookie)
        return Answer(source, *fields, None) if fields else None
    if icmp[0] in (UNREACHABLE_V4, TIME_EXCEEDED_V4):
        return _v4_error(icmp, source)
    return None


def _v4_error(icmp: bytes, reporter: str) -> Answer | None:
    # RFC 792: an error quotes the original IP header and at least 8 bytes
    # of the original datagram: enough for our echo's id and sequence.
    inner = icmp[8:]
    if len(inner) < 20:
        return None
    inner_icmp = inner[(inner[0] & 0x0F) * 4 :]
    if len(inner_icmp) < 8 or inner_icmp[0] != ECHO_REQUEST_V4:
        return None
    destination = socket.inet_ntop(socket.AF_INET, inner[16:20])
    ident, sequence = _ID_SEQ.unpack_from(inner_icmp, 4)
    return Answer(destination, ident, sequence, error_text(False, icmp[0], icmp[1], reporter))


def parse_icmp_only(packet: bytes, source: str, cookie: bytes, v6: bool) -> Answer | None:
    """A packet that starts at the ICMP header: ping sockets, and raw ICMPv6."""
    if len(packet) < 8:
        return None
    reply_type = ECHO_REPLY_V6 if v6 else ECHO_REPLY_V4
    if packet[0] == reply_type:
        fields = _echo_fields(packet, cookie)
        return Answer(source, *fields, None) if fields else None
    if v6 and packet[0] in (UNREACHABLE_V6, TIME_EXCEEDED_V6, TOO_BIG_V6):
        return _v6_error(packet, source)
    return None


def _v6_error(icmp: bytes, reporter: str) -> Answer | None:
    # RFC 4443 2.4: the error carries as much of the invoking packet as fits;
    # the fixed IPv6 header is 40 bytes, our echo header follows it.
    inner = icmp[8:]
    if len(inner) < 48 or inner[40] != ECHO_REQUEST_V6:
        return None
    destination = socket.inet_ntop(socket.AF_INET6, inner[24:40])
    ident, sequence = _ID_SEQ.unpack_from(inner, 44)
    return Answer(destination, ident, sequence, error_text(True, icmp[0], icmp[1], reporter))


# --- classic BPF for the raw IPv4 socket -------------------------------------
# A raw ICMP socket receives a copy of every ICMP packet on the host: other
# programs' echoes, and on loopback our own requests. The filter lets through
# only echo replies carrying our identifier, and errors (checked later), so
# the kernel drops the rest before it costs a wake-up or a buffer slot.
SO_ATTACH_FILTER = 26
_BPF_LDX_MSH_B = 0xB1  # X = 4 * (pkt[k] & 0x0f): the IP header length
_BPF_LD_B_IND = 0x50  # A = pkt[X + k] (byte)
_BPF_LD_H_IND = 0x48  # A = pkt[X + k] (half word)
_BPF_JEQ_K = 0x15
_BPF_RET_K = 0x06


def bpf_echo_filter_v4(ident: int) -> list[tuple[int, int, int, int]]:
    return [
        (_BPF_LDX_MSH_B, 0, 0, 0),
        (_BPF_LD_B_IND, 0, 0, 0),  # ICMP type
        (_BPF_JEQ_K, 3, 0, ECHO_REPLY_V4),  # echo reply: check the id
        # (jump offsets count from the next instruction)
        (_BPF_JEQ_K, 4, 0, UNREACHABLE_V4),  # errors: accept
        (_BPF_JEQ_K, 3, 0, TIME_EXCEEDED_V4),
        (_BPF_RET_K, 0, 0, 0),  # anything else: drop
        (_BPF_LD_H_IND, 0, 0, 4),  # echo identifier
        (_BPF_JEQ_K, 0, 1, ident),
        (_BPF_RET_K, 0, 0, 0xFFFF),  # accept
        (_BPF_RET_K, 0, 0, 0),
    ]


def attach_bpf(sock: socket.socket, program: list[tuple[int, int, int, int]]) -> None:
    code = b"".join(struct.pack("HBBI", *insn) for insn in program)
    buffer = ctypes.create_string_buffer(code)
    # struct sock_fprog { unsigned short len; struct sock_filter *filter; }
    fprog = struct.pack("HP", len(program), ctypes.addressof(buffer))
    sock.setsockopt(socket.SOL_SOCKET, SO_ATTACH_FILTER, fprog)


# ICMP6_FILTER (RFC 3542 3.2): a bitmap of types to block on a raw ICMPv6 socket.
ICMP6_FILTER = 1


def icmp6_filter(passing: tuple[int, ...]) -> bytes:
    words = [0xFFFFFFFF] * 8
    for icmp_type in passing:
        words[icmp_type >> 5] &= ~(1 << (icmp_type & 31)) & 0xFFFFFFFF
    return struct.pack("8I", *words)
