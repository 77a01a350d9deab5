"""The SNMPv2c BER codec: real net-snmp answers, every type both ways, strictness, fuzz.

The answers below were captured from the test fixture's snmpd (net-snmp 5.9,
Debian 12) with community "examnet-lab" and request-id 0x1234; each is named
after what it shows. pysnmp (pyasn1) decodes each of them too, as the
reference the codec must agree with.
"""

from __future__ import annotations

import contextlib
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pyasn1.codec.ber import decoder
from pysnmp.proto import api, rfc1902, rfc1905

from probes import snmpdata as oids
from probes import snmpwire as wire
from probes.snmpwire import (
    NULL,
    Absent,
    Counter32,
    Counter64,
    Gauge32,
    Integer32,
    IpAddress,
    Message,
    ObjectIdentifier,
    Opaque,
    TimeTicks,
    WireError,
    decode_message,
    encode_message,
    oid_tuple,
)

V2C = api.PROTOCOL_MODULES[api.SNMP_VERSION_2C]
COMMUNITY = b"examnet-lab"

# GET sysUpTime.0, snmpEngineBoots.0, snmpEngineTime.0: TimeTicks and INTEGERs
SYSUPTIME_AND_ENGINE_SCALARS = bytes.fromhex(
    "304f020101040b6578616d6e65742d6c6162a23d020212340201000201003031300d06082b0601020101"
    "0300430129300f060a2b060106030a02010200020101300f060a2b060106030a02010300020100"
)
# GET of lo's row: INTEGER, Counter64, Counter32, Gauge32, TimeTicks; a long-form length
LO_ROW_WITH_EVERY_COUNTER_TYPE = bytes.fromhex(
    "30818a020101040b6578616d6e65742d6c6162a27802021234020100020100306c300f060a2b06010201"
    "0202010801020101300f060a2b0601020102020107010201013013060b2b060102011f01010106014604"
    "06efe500300f060a2b060102010202010e014101003010060b2b060102011f0101010f0142010a301006"
    "0b2b060102011f0101011301430100"
)
# GET upsOutputSource.0 and ifOperStatus.99999 on an agent without UPS-MIB
NO_SUCH_OBJECT_AND_NO_SUCH_INSTANCE = bytes.fromhex(
    "3040020101040b6578616d6e65742d6c6162a22e020212340201000201003022300e060a2b0601020121"
    "0104010080003010060c2b0601020102020108868d1f8100"
)
# GET sysObjectID.0, sysName.0, ipAdEntAddr.127.0.0.1, laLoadFloat.1 (an Opaque float)
OID_STRING_IPADDRESS_AND_OPAQUE = bytes.fromhex(
    "308185020101040b6578616d6e65742d6c6162a273020212340201000201003067301606082b06010201"
    "010200060a2b06010401bf0803020a301e06082b0601020101050004126578616d6e65742d746573742d"
    "6167656e743015060d2b06010201041401017f00000140047f0000013016060b2b060104018f650a0106"
    "0144079f78043ff0b000"
)
# GETBULK from 1.4: past the agent's whole MIB
END_OF_MIB_VIEW_FROM_GETBULK = bytes.fromhex(
    "3025020101040b6578616d6e65742d6c6162a213020212340201000201003007300506012c8200"
)
# GETBULK of ifName, three rows
IFNAME_ROWS_FROM_GETBULK = bytes.fromhex(
    "305b020101040b6578616d6e65742d6c6162a24902021234020100020100303d3011060b2b060102011f"
    "010101010104026c6f3013060b2b060102011f01010101020404696662303013060b2b060102011f0101"
    "010103040469666231"
)
CAPTURED = {
    "sysuptime_and_engine_scalars": SYSUPTIME_AND_ENGINE_SCALARS,
    "lo_row_with_every_counter_type": LO_ROW_WITH_EVERY_COUNTER_TYPE,
    "no_such_object_and_no_such_instance": NO_SUCH_OBJECT_AND_NO_SUCH_INSTANCE,
    "oid_string_ipaddress_and_opaque": OID_STRING_IPADDRESS_AND_OPAQUE,
    "end_of_mib_view_from_getbulk": END_OF_MIB_VIEW_FROM_GETBULK,
    "ifname_rows_from_getbulk": IFNAME_ROWS_FROM_GETBULK,
}


def typed(message: Message) -> list[tuple[Any, type, Any]]:
    """Varbinds with their types: Counter32(5) == Gauge32(5) as ints, not on the wire."""
    return [(name, type(value), value) for name, value in message.varbinds]


def as_pysnmp_sees_it(data: bytes) -> list[tuple[tuple[int, ...], str, Any]]:
    message, rest = decoder.decode(data, asn1Spec=V2C.Message())
    assert rest == b""
    pdu = V2C.apiMessage.get_pdu(message)
    seen = []
    for name, value in V2C.apiPDU.get_varbinds(pdu):
        plain = bytes(value) if isinstance(value, rfc1902.OctetString) else value
        if isinstance(value, rfc1902.ObjectIdentifier):
            plain = tuple(value)
        elif isinstance(value, rfc1902.Integer | rfc1902.Counter64 | rfc1902.Gauge32 |
                        rfc1902.Counter32 | rfc1902.TimeTicks):  # fmt: skip
            plain = int(value)
        seen.append((tuple(name), type(value).__name__, plain))
    return seen


PYSNMP_NAMES = {
    Integer32: "Integer", Counter32: "Counter32", Gauge32: "Gauge32", TimeTicks: "TimeTicks",
    Counter64: "Counter64", bytes: "OctetString", IpAddress: "IpAddress", Opaque: "Opaque",
    ObjectIdentifier: "ObjectIdentifier",
}  # fmt: skip
ABSENT_NAMES = {Absent.NO_SUCH_OBJECT: "NoSuchObject", Absent.NO_SUCH_INSTANCE: "NoSuchInstance",
                Absent.END_OF_MIB_VIEW: "EndOfMibView"}  # fmt: skip


def pysnmp_name(value: Any) -> str:
    return ABSENT_NAMES[value] if isinstance(value, Absent) else PYSNMP_NAMES[type(value)]


# --- real answers ---------------------------------------------------------------------


@pytest.mark.parametrize("name", list(CAPTURED))
def test_it_decodes_real_net_snmp_answers_as_pysnmp_does(name: str) -> None:
    data = CAPTURED[name]
    message = decode_message(data)
    assert (message.version, message.community) == (1, COMMUNITY)
    assert (message.pdu_type, message.request_id) == (wire.RESPONSE, 0x1234)
    assert (message.error_status, message.error_index) == (0, 0)
    ours = [(n, pysnmp_name(v), v) for n, v in message.varbinds]
    theirs = as_pysnmp_sees_it(data)
    assert [(n, t) for n, t, _ in ours] == [(n, t) for n, t, _ in theirs]
    for (_, _, mine), (_, _, reference) in zip(ours, theirs, strict=True):
        if not isinstance(mine, Absent):
            assert mine == reference


def test_it_reads_the_counters_of_a_real_interface_row() -> None:
    message = decode_message(LO_ROW_WITH_EVERY_COUNTER_TYPE)
    assert typed(message) == [
        (oid_tuple(f"{oids.IF_OPER_STATUS}.1"), Integer32, 1),
        (oid_tuple(f"{oids.IF_ADMIN_STATUS}.1"), Integer32, 1),
        (oid_tuple(f"{oids.IF_HC_IN_OCTETS}.1"), Counter64, 0x06EFE500),
        (oid_tuple(f"{oids.IF_IN_ERRORS}.1"), Counter32, 0),
        (oid_tuple(f"{oids.IF_HIGH_SPEED}.1"), Gauge32, 10),
        (oid_tuple(f"{oids.IF_COUNTER_DISCONTINUITY}.1"), TimeTicks, 0),
    ]


def test_it_reads_the_exception_values_of_a_real_agent() -> None:
    values = [v for _, v in decode_message(NO_SUCH_OBJECT_AND_NO_SUCH_INSTANCE).varbinds]
    assert values == [Absent.NO_SUCH_OBJECT, Absent.NO_SUCH_INSTANCE]
    [(_, end)] = decode_message(END_OF_MIB_VIEW_FROM_GETBULK).varbinds
    assert end is Absent.END_OF_MIB_VIEW


def test_it_re_encodes_a_real_answer_byte_for_byte_but_for_its_long_form_length() -> None:
    for data in (SYSUPTIME_AND_ENGINE_SCALARS, NO_SUCH_OBJECT_AND_NO_SUCH_INSTANCE,
                 END_OF_MIB_VIEW_FROM_GETBULK, IFNAME_ROWS_FROM_GETBULK):  # fmt: skip
        assert encode_message(decode_message(data)) == data


# --- requests, as pysnmp reads them -------------------------------------------------


def test_it_encodes_a_get_request_that_pysnmp_reads_back() -> None:
    asked = [oids.SYS_UPTIME, f"{oids.IF_HC_IN_OCTETS}.4294967295", ".1.3.6.1.4.1.99999.1.0"]
    message, rest = decoder.decode(wire.encode_get(b"c", 2**31 - 1, asked),
                                   asn1Spec=V2C.Message())  # fmt: skip
    pdu = V2C.apiMessage.get_pdu(message)
    assert rest == b""
    assert bytes(V2C.apiMessage.get_community(message)) == b"c"
    assert isinstance(pdu, rfc1905.GetRequestPDU)
    assert int(V2C.apiPDU.get_request_id(pdu)) == 2**31 - 1
    names = [str(n) for n, _ in V2C.apiPDU.get_varbinds(pdu)]
    assert names == [o.lstrip(".") for o in asked]


def test_it_encodes_a_getbulk_with_its_repetitions() -> None:
    message = decode_message(wire.encode_bulk(b"c", 7, [oids.IF_NAME, oids.IF_DESCR], 20))
    assert (message.pdu_type, message.error_status, message.error_index) == (wire.GET_BULK, 0, 20)
    assert [n for n, _ in message.varbinds] == [oid_tuple(oids.IF_NAME), oid_tuple(oids.IF_DESCR)]
    assert {v for _, v in message.varbinds} == {NULL}


# --- every type both ways ------------------------------------------------------------

EVERY_TYPE = [
    Integer32(0), Integer32(-1), Integer32(127), Integer32(128), Integer32(-128),
    Integer32(-129), Integer32(2**31 - 1), Integer32(-(2**31)),
    Counter32(0), Counter32(2**32 - 1), Gauge32(2**31), TimeTicks(4294967295),
    Counter64(0), Counter64(2**63), Counter64(2**64 - 1),
    b"", b"eth0", bytes(range(256)) * 4, IpAddress(b"\x0a\x00\x00\x01"), Opaque(b"\x9f\x78\x04"),
    ObjectIdentifier((0, 0)), ObjectIdentifier((1, 39, 2**32 - 1)), ObjectIdentifier((2, 999, 3)),
    NULL, Absent.NO_SUCH_OBJECT, Absent.NO_SUCH_INSTANCE, Absent.END_OF_MIB_VIEW,
]  # fmt: skip


@pytest.mark.parametrize("value", EVERY_TYPE, ids=lambda v: f"{type(v).__name__}")
def test_it_round_trips_every_type(value: wire.Value) -> None:
    message = Message(b"public", wire.RESPONSE, 42, varbinds=((oid_tuple("1.3.6.1.2.1"), value),))
    assert typed(decode_message(encode_message(message))) == typed(message)


@pytest.mark.parametrize(
    "value",
    [Integer32(2**31), Counter32(-1), Gauge32(2**32), Counter64(2**64), ObjectIdentifier((3, 1)),
     ObjectIdentifier((1, 40)), ObjectIdentifier((1,)), ObjectIdentifier((1, 3) + (1,) * 127),
     True, 5],
)  # fmt: skip
def test_it_refuses_to_encode_what_is_no_smi_value(value: Any) -> None:
    with pytest.raises(WireError):
        wire.encode_value(value)


# --- strictness ------------------------------------------------------------------------


def test_it_refuses_every_truncation_of_a_real_answer() -> None:
    data = LO_ROW_WITH_EVERY_COUNTER_TYPE
    for size in range(len(data)):
        with pytest.raises(WireError):
            decode_message(data[:size])


def test_it_refuses_trailing_data() -> None:
    with pytest.raises(WireError, match="trailing"):
        decode_message(SYSUPTIME_AND_ENGINE_SCALARS + b"\x00")


def _response(*varbind_bytes: bytes) -> bytes:
    """A Response whose varbind list holds these encoded varbinds (to break them)."""
    return encode_message(Message(b"c", wire.RESPONSE, 1), list(varbind_bytes))


def _varbind(value: bytes) -> bytes:
    name = b"\x06\x03\x2b\x06\x01"  # 1.3.6.1
    return bytes((0x30, len(name) + len(value))) + name + value


@pytest.mark.parametrize(
    ("value", "reason"),
    [
        (b"\x42\x01\xff", "out of range"),  # a negative Gauge32 (no leading zero)
        (b"\x46\x09\x01" + b"\x00" * 8, "out of range"),  # 2^64: beyond Counter64
        (b"\x02\x05\x00\x80\x00\x00\x00", "out of range"),  # 2^31: beyond Integer32
        (b"\x41\x00", "wrong size"),  # an INTEGER with no octet (X.690 8.3.1)
        (b"\x40\x05\x0a\x00\x00\x01\x00", "4 octets"),
        (b"\x05\x01\x00", "NULL with contents"),
        (b"\x82\x01\x00", "NULL with contents"),
        (b"\x06\x02\x80\x01", "padded"),  # X.690 8.19.2
        (b"\x06\x02\x2b\x86", "truncated"),  # the last sub-identifier never ends
        (b"\x06\x00", "truncated, empty"),
        (b"\x06\x06\x2b\x90\x80\x80\x80\x00", "sub-identifier above"),
        (b"\x01\x01\xff", "unknown type"),  # BOOLEAN is no SMI type
        (b"\x1f\x22\x01\x00", "high-tag-number"),
        (b"\x04\x80\x00\x00", "indefinite"),  # RFC 3417 8
        (b"\x04\x85\x00\x00\x00\x00\x01\x00", "oversized length"),
        (b"\x02\x01\x01\x05\x00", "trailing data in a varbind"),
    ],
)
def test_it_refuses_a_malformed_value(value: bytes, reason: str) -> None:
    with pytest.raises(WireError, match=reason):
        decode_message(_response(_varbind(value)))


def test_it_accepts_long_form_lengths_where_short_ones_would_do() -> None:
    value = b"\x04\x82\x00\x04eth0"  # X.690 8.1.3.5: BER allows it, only DER does not
    [(_, text)] = decode_message(_response(_varbind(value))).varbinds
    assert text == b"eth0"


def test_it_accepts_an_integer_padded_with_a_zero_octet() -> None:
    [(_, number)] = decode_message(_response(_varbind(b"\x41\x05\x00\x00\x00\x00\x07"))).varbinds
    assert (type(number), number) == (Counter32, 7)


def test_it_refuses_messages_that_are_not_snmpv2c() -> None:
    v1 = SYSUPTIME_AND_ENGINE_SCALARS.replace(b"\x02\x01\x01", b"\x02\x01\x00", 1)
    with pytest.raises(WireError, match="not an SNMPv2c message"):
        decode_message(v1)
    unknown_pdu = SYSUPTIME_AND_ENGINE_SCALARS.replace(b"\xa2", b"\xa4", 1)  # [4]: SNMPv1 Trap
    with pytest.raises(WireError, match="unknown PDU type"):
        decode_message(unknown_pdu)


def test_it_tells_the_version_of_a_message_and_none_of_garbage() -> None:
    assert wire.message_version(SYSUPTIME_AND_ENGINE_SCALARS) == 1
    v3_header = bytes.fromhex("30 0b 02 01 03 30 06 02 01 01 02 01 00".replace(" ", ""))
    assert wire.message_version(v3_header) == 3
    assert wire.message_version(b"") is None
    assert wire.message_version(b"\x30\x84" + b"\xff" * 100) is None


# --- property-based ------------------------------------------------------------------

ARC = st.integers(0, 2**32 - 1)
OIDS = st.one_of(
    st.tuples(st.integers(0, 1), st.integers(0, 39)), st.tuples(st.just(2), ARC)
).flatmap(lambda head: st.lists(ARC, max_size=40).map(lambda rest: (*head, *rest)))


def _ints(kind: type[int], low: int, high: int) -> st.SearchStrategy[wire.Value]:
    return st.integers(low, high).map(kind)  # type: ignore[arg-type]


VALUES: st.SearchStrategy[wire.Value] = st.one_of(
    _ints(Integer32, -(2**31), 2**31 - 1), _ints(Counter32, 0, 2**32 - 1),
    _ints(Gauge32, 0, 2**32 - 1), _ints(TimeTicks, 0, 2**32 - 1),
    _ints(Counter64, 0, 2**64 - 1), st.binary(max_size=300),
    st.binary(min_size=4, max_size=4).map(IpAddress), st.binary(max_size=20).map(Opaque),
    OIDS.map(ObjectIdentifier), st.just(NULL), st.sampled_from(list(Absent)),
)  # fmt: skip
MESSAGES = st.builds(
    Message,
    community=st.binary(max_size=40),
    pdu_type=st.sampled_from([wire.RESPONSE, wire.GET, wire.REPORT]),
    request_id=st.integers(-(2**31), 2**31 - 1),
    error_status=st.integers(0, 18),
    error_index=st.integers(0, 2**31 - 1),
    varbinds=st.lists(st.tuples(OIDS, VALUES), max_size=12).map(tuple),
)


@settings(max_examples=200)
@given(MESSAGES)
def test_it_decodes_what_it_encodes(message: Message) -> None:
    decoded = decode_message(encode_message(message))
    assert decoded == message
    assert typed(decoded) == typed(message)


@settings(max_examples=1000)
@given(st.binary(max_size=400))
def test_it_raises_nothing_but_wire_error_on_arbitrary_bytes(data: bytes) -> None:
    with contextlib.suppress(WireError):
        decode_message(data)
    wire.message_version(data)  # never raises at all


@settings(max_examples=1000)
@given(st.sampled_from(list(CAPTURED.values())), st.integers(0, 10**6), st.integers(0, 255))
def test_it_raises_nothing_but_wire_error_on_a_damaged_real_answer(
    data: bytes, where: int, octet: int
) -> None:
    damaged = bytearray(data)
    damaged[where % len(data)] = octet
    with contextlib.suppress(WireError):
        decode_message(bytes(damaged))
