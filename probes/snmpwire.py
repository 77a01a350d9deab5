"""SNMPv2c on the wire: a small, strict BER codec, without pyasn1.

RFC 3416 PDUs in RFC 1901 messages, BER as X.690 with the limits of RFC
3417 section 8 (definite lengths only). pyasn1 takes ~5 ms to decode one
40-varbind answer; this takes ~0.1 ms, which is what lets one core poll a
thousand 50-interface devices a minute (benchmarks/snmp.py).

Of SNMPv3 it reads only what a manager may read without keys (RFC 3412 6,
RFC 3414 2.4): a Report's usmStats counter and the agent's engine ID, boots
and time, in the clear on every report. pysnmp handles the rest of v3.

Values come out as small Python types that `snmp_values` checks like
pysnmp's own: int subclasses named after their SMI type, `bytes` for an
OCTET STRING, a tuple for an OBJECT IDENTIFIER, and `Absent` for the
exception values. Anything that is not a well-formed message raises
`WireError`, never IndexError or anything else.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from enum import Enum, IntEnum

VERSION_2C = 1  # RFC 1901: version-2c(1); SNMPv3 messages say 3 (RFC 3412 6)
VERSION_3 = 3
USM = 3  # RFC 3411 5: msgSecurityModel of the User-based Security Model
PRIVACY_FLAG = 0x02  # RFC 3412 6.4: msgFlags privFlag, the scoped PDU is encrypted
USM_STATS = (1, 3, 6, 1, 6, 3, 15, 1, 1)  # RFC 3414 5: usmStats, counters of refusals
INT32_MIN, INT32_MAX = -(2**31), 2**31 - 1
UINT32_MAX, UINT64_MAX = 2**32 - 1, 2**64 - 1
MAX_SUBIDS = 128  # RFC 2578 3.5: at most 128 sub-identifiers, each below 2^32

SEQUENCE, INTEGER, OCTET_STRING, NULL_TAG, OID_TAG = 0x30, 0x02, 0x04, 0x05, 0x06
IP_ADDRESS, COUNTER32, GAUGE32, TIMETICKS, OPAQUE, COUNTER64 = 0x40, 0x41, 0x42, 0x43, 0x44, 0x46
# RFC 3416 3: the PDU tags, [CONTEXT n] constructed
GET, GET_NEXT, RESPONSE, SET, GET_BULK, INFORM, TRAP, REPORT = (
    0xA0, 0xA1, 0xA2, 0xA3, 0xA5, 0xA6, 0xA7, 0xA8,
)  # fmt: skip
PDU_TAGS = frozenset((GET, GET_NEXT, RESPONSE, SET, GET_BULK, INFORM, TRAP, REPORT))


class UsmStat(IntEnum):
    """The usmStats counter a Report names (RFC 3414 5): why the agent refused."""

    UNSUPPORTED_SEC_LEVELS = 1
    NOT_IN_TIME_WINDOWS = 2
    UNKNOWN_USER_NAMES = 3
    UNKNOWN_ENGINE_IDS = 4
    WRONG_DIGESTS = 5
    DECRYPTION_ERRORS = 6


class WireError(ValueError):
    """The datagram is no well-formed SNMPv2c message; the text says why, in plain words."""


class Integer32(int):
    __slots__ = ()


class Counter32(int):
    __slots__ = ()


class Gauge32(int):  # Unsigned32 shares its tag (RFC 2578 7.1.11)
    __slots__ = ()


class TimeTicks(int):
    __slots__ = ()


class Counter64(int):
    __slots__ = ()


class IpAddress(bytes):
    __slots__ = ()


class Opaque(bytes):  # RFC 2578 7.1.9: BER of something else, kept whole
    __slots__ = ()


class ObjectIdentifier(tuple[int, ...]):  # a value; varbind names are plain tuples
    __slots__ = ()


class Null:
    """The NULL of a request's varbinds (RFC 3416 3: unSpecified)."""

    __slots__ = ()

    def __repr__(self) -> str:
        return "NULL"


NULL = Null()


class Absent(Enum):
    """RFC 3416 3: the exception values an agent puts in place of a value."""

    NO_SUCH_OBJECT = 0x80
    NO_SUCH_INSTANCE = 0x81
    END_OF_MIB_VIEW = 0x82


Value = (Integer32 | Counter32 | Gauge32 | TimeTicks | Counter64 | bytes | ObjectIdentifier
         | Null | Absent)  # fmt: skip
Oid = tuple[int, ...]
VarBind = tuple[Oid, Value]

_INT_RANGES: dict[type[int], tuple[int, int, int]] = {  # type -> (tag, low, high)
    Integer32: (INTEGER, INT32_MIN, INT32_MAX),
    Counter32: (COUNTER32, 0, UINT32_MAX),
    Gauge32: (GAUGE32, 0, UINT32_MAX),
    TimeTicks: (TIMETICKS, 0, UINT32_MAX),
    Counter64: (COUNTER64, 0, UINT64_MAX),
}
_OCTETS: dict[type[bytes], int] = {bytes: OCTET_STRING, IpAddress: IP_ADDRESS, Opaque: OPAQUE}


@dataclass(frozen=True, slots=True)
class UsmReport:
    """A plaintext SNMPv3 Report (RFC 3414 3.2): what was refused, and the agent's
    engine as it says it is now (msgAuthoritativeEngineID, -Boots, -Time)."""

    stat: UsmStat
    engine_id: bytes
    boots: int
    time: int
    context_engine_id: bytes
    context_name: bytes


@dataclass(frozen=True, slots=True)
class Message:
    """One SNMPv2c message. In a GetBulkRequest, error_status and error_index carry
    non-repeaters and max-repetitions (RFC 3416 4.2.3)."""

    community: bytes = field(repr=False)  # a secret: never in a log line
    pdu_type: int
    request_id: int
    error_status: int = 0
    error_index: int = 0
    varbinds: tuple[VarBind, ...] = ()
    version: int = VERSION_2C


# --- encoding ---------------------------------------------------------------------


def _length(n: int) -> bytes:
    if n < 0x80:
        return bytes((n,))
    size = (n.bit_length() + 7) // 8  # X.690 8.1.3.5: long form, big-endian
    return bytes((0x80 | size,)) + n.to_bytes(size, "big")


def _tlv(tag: int, contents: bytes) -> bytes:
    return bytes((tag,)) + _length(len(contents)) + contents


def _integer(tag: int, n: int) -> bytes:
    # X.690 8.3: two's complement in the fewest octets
    size = ((n if n >= 0 else ~n).bit_length() + 8) // 8
    return _tlv(tag, n.to_bytes(size, "big", signed=True))


def _oid_contents(oid: Sequence[int]) -> bytes:
    """X.690 8.19: the first two arcs share one sub-identifier, base 128."""
    if not 2 <= len(oid) <= MAX_SUBIDS or not 0 <= oid[0] <= 2 or any(
            not 0 <= arc <= UINT32_MAX for arc in oid):  # fmt: skip
        raise WireError("not an SNMP object identifier")
    if oid[0] < 2 and oid[1] >= 40:
        raise WireError("not an SNMP object identifier")
    out = bytearray()
    for sub in (oid[0] * 40 + oid[1], *oid[2:]):
        chunk = [sub & 0x7F]
        rest = sub >> 7
        while rest:
            chunk.append(0x80 | (rest & 0x7F))
            rest >>= 7
        out += bytes(reversed(chunk))
    return bytes(out)


@functools.lru_cache(maxsize=1 << 16)
def oid_tuple(dotted: str) -> Oid:
    """ "1.3.6.1.2.1.1.3.0" (a leading dot allowed) as a tuple, made once."""
    return tuple(int(arc) for arc in dotted.strip().lstrip(".").split("."))


@functools.lru_cache(maxsize=1 << 16)
def null_varbind(dotted: str) -> bytes:
    """A request's varbind (the OID, then NULL), encoded once per OID."""
    return _tlv(SEQUENCE, _tlv(OID_TAG, _oid_contents(oid_tuple(dotted))) + b"\x05\x00")


def encode_value(value: Value) -> bytes:
    if isinstance(value, int):  # the SMI integers; a plain int or a bool has no tag
        spec = _INT_RANGES.get(type(value))
        if spec is None or not spec[1] <= value <= spec[2]:
            raise WireError(f"cannot encode {type(value).__name__} {value}")
        return _integer(spec[0], value)
    if isinstance(value, bytes) and type(value) in _OCTETS:
        return _tlv(_OCTETS[type(value)], value)
    if isinstance(value, ObjectIdentifier):
        return _tlv(OID_TAG, _oid_contents(value))
    if isinstance(value, Null):
        return b"\x05\x00"
    if isinstance(value, Absent):
        return bytes((value.value, 0))
    raise WireError(f"cannot encode a {type(value).__name__}")


def encode_message(message: Message, varbinds: Sequence[bytes] | None = None) -> bytes:
    """The message as BER; `varbinds` already encoded (see `null_varbind`) when given."""
    if varbinds is None:
        varbinds = [_tlv(SEQUENCE, _tlv(OID_TAG, _oid_contents(name)) + encode_value(value))
                    for name, value in message.varbinds]  # fmt: skip
    pdu = b"".join((
        _integer(INTEGER, message.request_id), _integer(INTEGER, message.error_status),
        _integer(INTEGER, message.error_index), _tlv(SEQUENCE, b"".join(varbinds)),
    ))  # fmt: skip
    head = _integer(INTEGER, message.version) + _tlv(OCTET_STRING, message.community)
    return _tlv(SEQUENCE, head + _tlv(message.pdu_type, pdu))


def encode_get(community: bytes, request_id: int, oids: Sequence[str]) -> bytes:
    return encode_message(Message(community, GET, request_id), [null_varbind(o) for o in oids])


def encode_bulk(community: bytes, request_id: int, oids: Sequence[str], repetitions: int) -> bytes:
    """A GetBulkRequest without non-repeaters: `repetitions` rows of each OID."""
    message = Message(community, GET_BULK, request_id, 0, repetitions)
    return encode_message(message, [null_varbind(o) for o in oids])


# --- decoding -----------------------------------------------------------------------


def _header(data: bytes, pos: int, end: int) -> tuple[int, int, int]:
    """The TLV at `pos`: (tag, where its contents begin, where they end)."""
    if end - pos < 2:
        raise WireError("truncated: a tag and a length were expected")
    tag, first = data[pos], data[pos + 1]
    if tag & 0x1F == 0x1F:
        raise WireError("unknown tag (high-tag-number form)")
    pos += 2
    if first & 0x80:
        size = first & 0x7F
        if size == 0:  # RFC 3417 8: "only the definite form is used"
            raise WireError("indefinite length")
        if size > 4 or size > end - pos:
            raise WireError("truncated or oversized length")
        length = int.from_bytes(data[pos : pos + size], "big")
        pos += size
    else:
        length = first
    if length > end - pos:
        raise WireError("truncated: a length runs past the end")
    return tag, pos, pos + length


def _expect(data: bytes, pos: int, end: int, tag: int, what: str) -> tuple[int, int]:
    found, start, stop = _header(data, pos, end)
    if found != tag:
        raise WireError(f"{what} expected")
    return start, stop


def _field(data: bytes, pos: int, end: int, what: str, *, low: int = INT32_MIN,
           high: int = INT32_MAX) -> tuple[int, int]:  # fmt: skip
    """An INTEGER of the message or PDU header, and where the next field begins."""
    start, stop = _expect(data, pos, end, INTEGER, what)
    if not 0 < stop - start <= 5:  # X.690 8.3.1: at least one octet; 5 hold any Integer32
        raise WireError(f"{what} of the wrong size")
    n = int.from_bytes(data[start:stop], "big", signed=True)
    if not low <= n <= high:
        raise WireError(f"{what} out of range")
    return n, stop


@functools.lru_cache(maxsize=1 << 16)
def _oid(raw: bytes) -> Oid:
    """X.690 8.19, cached: the same OIDs come back in every poll."""
    if len(raw) > 5 * MAX_SUBIDS:  # 5 octets hold any sub-identifier below 2^32
        raise WireError("an object identifier too long")
    subs: list[int] = []
    sub = 0
    for octet in raw:
        if sub == 0 and octet == 0x80:  # X.690 8.19.2: no leading 0x80 octet
            raise WireError("an object identifier padded with 0x80")
        sub = (sub << 7) | (octet & 0x7F)
        if not octet & 0x80:
            subs.append(sub)
            sub = 0
    if not raw or raw[-1] & 0x80 or len(subs) >= MAX_SUBIDS:
        raise WireError("an object identifier truncated, empty or too long")
    first = min(subs[0] // 40, 2)
    oid = (first, subs[0] - 40 * first, *subs[1:])
    if any(arc > UINT32_MAX for arc in oid):
        raise WireError("an object identifier with a sub-identifier above 2^32-1")
    return oid


def _number(kind: type[int]) -> Callable[[bytes, int, int], Value]:
    _tag, low, high = _INT_RANGES[kind]

    def decode(data: bytes, start: int, stop: int) -> Value:
        if not 0 < stop - start <= 9:  # X.690 8.3.1: at least one octet; 9 hold a Counter64
            raise WireError(f"a {kind.__name__} of the wrong size")
        n = int.from_bytes(data[start:stop], "big", signed=True)  # X.690 8.3.3
        if not low <= n <= high:  # e.g. a "negative" Gauge32 (RFC 2578 7.1.7)
            raise WireError(f"a {kind.__name__} out of range")
        return kind(n)  # type: ignore[return-value]

    return decode


def _ip(data: bytes, start: int, stop: int) -> Value:
    if stop - start != 4:  # RFC 2578 7.1.5: IpAddress ::= OCTET STRING (SIZE (4))
        raise WireError("an IpAddress that is not 4 octets")
    return IpAddress(data[start:stop])


def _empty(value: Value) -> Callable[[bytes, int, int], Value]:
    def decode(_data: bytes, start: int, stop: int) -> Value:
        if stop != start:  # X.690 8.8.2: NULL has no contents; the exceptions are NULLs too
            raise WireError("a NULL with contents")
        return value

    return decode


_VALUES: dict[int, Callable[[bytes, int, int], Value]] = {
    INTEGER: _number(Integer32), COUNTER32: _number(Counter32), GAUGE32: _number(Gauge32),
    TIMETICKS: _number(TimeTicks), COUNTER64: _number(Counter64),
    # no SIZE (0..65535) check for OCTET STRING (RFC 2578 7.1.2): no UDP datagram is larger
    OCTET_STRING: lambda d, a, b: d[a:b], IP_ADDRESS: _ip, OPAQUE: lambda d, a, b: Opaque(d[a:b]),
    OID_TAG: lambda d, a, b: ObjectIdentifier(_oid(d[a:b])), NULL_TAG: _empty(NULL),
    **{absent.value: _empty(absent) for absent in Absent},
}  # fmt: skip


def _varbinds(data: bytes, pos: int, end: int) -> tuple[VarBind, ...]:
    """RFC 3416 3: VarBind ::= SEQUENCE { name ObjectName, CHOICE { value, exceptions } }."""
    varbinds: list[VarBind] = []
    while pos < end:
        tag, start, stop = _header(data, pos, end)
        name_tag, name_start, name_stop = _header(data, start, stop)
        value_tag, value_start, value_stop = _header(data, name_stop, stop)
        if tag != SEQUENCE or name_tag != OID_TAG:
            raise WireError("a varbind expected: an OBJECT IDENTIFIER and a value")
        if value_stop != stop:
            raise WireError("trailing data in a varbind")
        decode = _VALUES.get(value_tag)
        if decode is None:
            raise WireError(f"a value of unknown type (tag 0x{value_tag:02x})")
        varbinds.append((_oid(data[name_start:name_stop]), decode(data, value_start, value_stop)))
        pos = stop
    return tuple(varbinds)


def message_version(data: bytes) -> int | None:
    """The version field alone (to tell SNMPv3 from v2c), or None when there is none."""
    try:
        start, stop = _expect(data, 0, len(data), SEQUENCE, "a message")
        return _field(data, start, stop, "a version", low=0)[0]
    except WireError:
        return None


def decode_message(data: bytes) -> Message:
    """Any SNMPv2c message (RFC 1901 3, RFC 3416 3); WireError if it is none."""
    start, end = _expect(data, 0, len(data), SEQUENCE, "a message")
    if end != len(data):
        raise WireError("trailing data after the message")
    version, pos = _field(data, start, end, "a version", low=0)
    if version != VERSION_2C:
        raise WireError("not an SNMPv2c message")
    community_start, community_end = _expect(data, pos, end, OCTET_STRING, "a community")
    pdu_type, pos, pdu_end = _header(data, community_end, end)
    if pdu_type not in PDU_TAGS:
        raise WireError("unknown PDU type")
    if pdu_end != end:
        raise WireError("trailing data after the PDU")
    request_id, pos = _field(data, pos, end, "a request-id")
    # error-status: any INTEGER, as pysnmp took it (named later, "errorStatus 25");
    # error-index, non-repeaters and max-repetitions are 0..max-bindings
    low = 0 if pdu_type == GET_BULK else INT32_MIN
    status, pos = _field(data, pos, end, "an error-status", low=low)
    index, pos = _field(data, pos, end, "an error-index", low=0)
    list_start, list_end = _expect(data, pos, end, SEQUENCE, "a varbind list")
    if list_end != end:
        raise WireError("trailing data after the varbind list")
    varbinds = _varbinds(data, list_start, list_end)
    community = data[community_start:community_end]
    return Message(community, pdu_type, request_id, status, index, varbinds, version)


def decode_usm_report(data: bytes) -> UsmReport | None:
    """The usmStats Report in an SNMPv3 datagram; None for anything else (a response,
    an encrypted PDU, another security model, a malformed message).

    RFC 3412 6: SNMPv3Message ::= SEQUENCE { msgVersion, msgGlobalData
    SEQUENCE { msgID, msgMaxSize, msgFlags, msgSecurityModel },
    msgSecurityParameters OCTET STRING, msgData }; RFC 3414 2.4: the
    parameters are SEQUENCE { engine ID, boots, time, user name, auth, priv }.
    """
    try:
        return _usm_report(data)
    except WireError:
        return None


def _usm_report(data: bytes) -> UsmReport | None:
    start, end = _expect(data, 0, len(data), SEQUENCE, "a message")
    version, pos = _field(data, start, end, "a version", low=0)
    header_start, pos = _expect(data, pos, end, SEQUENCE, "a header")
    _msg_id, at = _field(data, header_start, pos, "a msgID", low=0)
    _max_size, at = _field(data, at, pos, "a msgMaxSize", low=0)
    flags_start, flags_end = _expect(data, at, pos, OCTET_STRING, "msgFlags")
    model, _ = _field(data, flags_end, pos, "a msgSecurityModel", low=0)
    if version != VERSION_3 or model != USM or flags_end - flags_start != 1:
        return None
    if data[flags_start] & PRIVACY_FLAG:
        return None  # RFC 3414 3.1.1: reports are never encrypted
    params_start, pos = _expect(data, pos, end, OCTET_STRING, "msgSecurityParameters")
    usm_start, usm_end = _expect(data, params_start, pos, SEQUENCE, "USM parameters")
    id_start, id_end = _expect(data, usm_start, usm_end, OCTET_STRING, "an engine ID")
    boots, at = _field(data, id_end, usm_end, "msgAuthoritativeEngineBoots", low=0)
    time, _ = _field(data, at, usm_end, "msgAuthoritativeEngineTime", low=0)
    scoped_start, scoped_end = _expect(data, pos, end, SEQUENCE, "a scoped PDU")
    context_start, context_end = _expect(data, scoped_start, scoped_end, OCTET_STRING,
                                         "a contextEngineID")  # fmt: skip
    name_start, name_end = _expect(data, context_end, scoped_end, OCTET_STRING, "a contextName")
    stat = _report_stat(data, name_end, scoped_end)
    if stat is None:
        return None
    return UsmReport(
        stat, data[id_start:id_end], boots, time,
        data[context_start:context_end], data[name_start:name_end],
    )  # fmt: skip


def _report_stat(data: bytes, pos: int, end: int) -> UsmStat | None:
    """The usmStats counter named by a Report PDU's first varbind (RFC 3412 7.1.3)."""
    pdu_type, start, stop = _header(data, pos, end)
    if pdu_type != REPORT:
        return None
    _request_id, at = _field(data, start, stop, "a request-id")
    _status, at = _field(data, at, stop, "an error-status")
    _index, at = _field(data, at, stop, "an error-index")
    list_start, list_end = _expect(data, at, stop, SEQUENCE, "a varbind list")
    varbinds = _varbinds(data, list_start, list_end)
    if not varbinds:
        return None
    oid = varbinds[0][0]
    if len(oid) != len(USM_STATS) + 2 or oid[: len(USM_STATS)] != USM_STATS or oid[-1] != 0:
        return None
    stat = oid[len(USM_STATS)]
    return UsmStat(stat) if stat in UsmStat._value2member_map_ else None
