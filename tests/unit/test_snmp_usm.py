"""SNMPv3 USM reports read in the clear, and what a report that was not acted on means.

The datagrams below were captured from net-snmp 5.9.3's snmpd (Debian 12)
with `engineID examnet-capture`, answering `snmpget -v3` through a
recording proxy; each is named after what it shows.
"""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from probes import snmp_failures
from probes.snmpdata import PollFailure
from probes.snmpwire import UsmReport, UsmStat, decode_usm_report, encode_get
from tests.fixtures.snmpd import V3Request, usm_report

ENGINE_ID = bytes.fromhex("80001f8804") + b"examnet-capture"  # RFC 3411 5: text format (4)

CAPTURED = {
    # the answer to a discovery request (no engine ID, no user): noAuthNoPriv
    "unknown-engine-ids": "307702010330110204101236cb020300ffe304010002010304243022041480001f"
    "88046578616d6e65742d636170747572650201010201010400040004003039041480001f8804657861"
    "6d6e65742d636170747572650400a81f020450c3c03e0201000201003011300f060a2b060106030f0101"
    "0400410101",
    # `snmpget -Z 7,99999`: boots and time far off; authenticated (authNoPriv, flags 01)
    "not-in-time-windows": "308193020103301102046d6ed570020300ffe304010102010304433041041480"
    "001f88046578616d6e65742d6361707475726502010102010104076578616d6e65740418c64d9a9714ac"
    "2e98320339aa1c5ba4fba5086d07bc970d0804003036041480001f88046578616d6e65742d6361707475"
    "72650400a81c0201000201000201003011300f060a2b060106030f01010200410101",
    # the answer to the GET itself: authPriv, the scoped PDU encrypted
    "encrypted-response": "30819e02010330110204101236ca020300ffe3040103020103044b3049041480"
    "001f88046578616d6e65742d6361707475726502010102010104076578616d6e65740418d1eac44604b3"
    "673ff4e5225b755f380d52111537c2850b1e040867b164e0baba376204392a0ddcca0581117398ff4559"
    "e909a9015478830c98ec385d3d106f1d0b4cab5f8465909d032efbafdea4dd10342af42b2c81d2615b10"
    "dea344",
}
V2C_REQUEST = encode_get(b"examnet-lab", 0x1234, ["1.3.6.1.2.1.1.3.0"])


def captured(name: str) -> bytes:
    return bytes.fromhex(CAPTURED[name])


def test_it_reads_the_new_engine_of_a_real_unknown_engine_ids_report() -> None:
    assert decode_usm_report(captured("unknown-engine-ids")) == UsmReport(
        UsmStat.UNKNOWN_ENGINE_IDS, ENGINE_ID, 1, 1, ENGINE_ID, b""
    )


def test_it_reads_a_real_authenticated_not_in_time_windows_report() -> None:
    report = decode_usm_report(captured("not-in-time-windows"))
    assert report is not None
    assert (report.stat, report.engine_id, report.boots) == (
        UsmStat.NOT_IN_TIME_WINDOWS, ENGINE_ID, 1,
    )  # fmt: skip


def test_it_reads_nothing_from_answers_that_are_no_report() -> None:
    assert decode_usm_report(captured("encrypted-response")) is None
    assert decode_usm_report(V2C_REQUEST) is None
    assert decode_usm_report(b"") is None


@pytest.mark.parametrize("stat", list(UsmStat))
def test_it_reads_every_usm_stat_as_pysnmp_encodes_it(stat: UsmStat) -> None:
    request = V3Request(msg_id=42, engine_id=b"", user=b"examnet")
    datagram = usm_report(request, stat, ENGINE_ID, boots=7, engine_time=123_456)
    assert decode_usm_report(datagram) == UsmReport(stat, ENGINE_ID, 7, 123_456, ENGINE_ID, b"")


def test_it_reads_nothing_from_any_truncation_of_a_real_report() -> None:
    data = captured("unknown-engine-ids")
    assert [decode_usm_report(data[:n]) for n in range(len(data))] == [None] * len(data)


@given(st.binary(max_size=300))
def test_it_raises_nothing_on_arbitrary_bytes(data: bytes) -> None:
    decode_usm_report(data)


@given(st.integers(0, 10**6), st.integers(0, 255))
def test_it_raises_nothing_on_a_damaged_real_report(where: int, octet: int) -> None:
    data = bytearray(captured("not-in-time-windows"))
    data[where % len(data)] = octet
    decode_usm_report(bytes(data))


# --- a timeout behind a report that could not be acted on ------------------------------


def test_it_names_a_timeout_behind_an_unusable_report_after_the_report() -> None:
    engine = snmp_failures.silent_or_garbled(True, "x", UsmStat.UNKNOWN_ENGINE_IDS)
    clock = snmp_failures.silent_or_garbled(True, "x", UsmStat.NOT_IN_TIME_WINDOWS)
    assert (engine.kind, engine.message) == (PollFailure.AUTH, snmp_failures.ENGINE_ID_CHANGED)
    assert (clock.kind, clock.message) == (PollFailure.AUTH, snmp_failures.NOT_IN_TIME_WINDOW)
    assert "malformed" not in engine.message + clock.message


def test_it_keeps_silence_and_garbage_apart_from_reports() -> None:
    silent = snmp_failures.silent_or_garbled(False, "no answer", UsmStat.NOT_IN_TIME_WINDOWS)
    assert (silent.kind, silent.message) == (PollFailure.TIMEOUT, "no answer")
    garbled = snmp_failures.silent_or_garbled(True, "no answer")
    assert garbled.message == snmp_failures.UNUSABLE_ANSWERS


@pytest.mark.parametrize("stat", list(UsmStat))
def test_it_has_words_for_every_report(stat: UsmStat) -> None:
    failure = snmp_failures.from_report(stat)
    assert failure.kind in (PollFailure.AUTH, PollFailure.PRIVACY)
    assert not failure.unexpected
