"""Checking one value of an SNMP answer: types, ranges, exception values."""

from __future__ import annotations

import pytest
from pysnmp.proto import rfc1902, rfc1905

from probes import snmp_values as specs
from probes.snmp_values import check_range, read_int, read_number, read_text
from probes.snmpdata import Problem, ValueProblem


def kind(outcome: tuple[object, Problem | None]) -> ValueProblem | None:
    return outcome[1].kind if outcome[1] is not None else None


@pytest.mark.parametrize(
    ("value", "spec", "expected"),
    [
        (rfc1902.Counter64(2**64 - 1), specs.HC_IN_OCTETS, 2**64 - 1),
        (rfc1902.Counter32(7), specs.IN_OCTETS, 7),
        (rfc1902.TimeTicks(12345), specs.SYS_UPTIME, 12345),
        (rfc1902.Integer(1), specs.OPER_STATUS, 1),
        (rfc1902.Integer32(7), specs.OPER_STATUS, 7),
        (rfc1902.Gauge32(10000), specs.HIGH_SPEED, 10000),
        (rfc1902.Unsigned32(10000), specs.HIGH_SPEED, 10000),  # the same tag as Gauge32
        (rfc1902.Gauge32(30), specs.UPS_MINUTES_REMAINING, 30),  # some UPS agents do this
        (rfc1902.Integer(0), specs.UPS_MINUTES_REMAINING, 0),  # a depleted UPS says 0
    ],
)
def test_it_reads_a_value_of_the_right_type_and_range(
    value: object, spec: specs.ValueSpec, expected: int
) -> None:
    assert read_int(value, spec, "x") == (expected, None)


@pytest.mark.parametrize(
    ("value", "problem"),
    [
        (rfc1905.noSuchObject, ValueProblem.NO_SUCH_OBJECT),
        (rfc1905.noSuchInstance, ValueProblem.NO_SUCH_INSTANCE),
        (rfc1905.endOfMibView, ValueProblem.END_OF_MIB),
        (rfc1902.OctetString(b"12345"), ValueProblem.WRONG_TYPE),
        (rfc1902.Counter32(5), ValueProblem.WRONG_TYPE),  # a 32-bit counter in a 64-bit column
        (rfc1902.Gauge32(5), ValueProblem.WRONG_TYPE),
        (rfc1902.Null(""), ValueProblem.WRONG_TYPE),
        (None, ValueProblem.WRONG_TYPE),
    ],
)
def test_it_refuses_what_is_no_counter64(value: object, problem: ValueProblem) -> None:
    number, found = read_int(value, specs.HC_IN_OCTETS, "ifHCInOctets.3")
    assert number is None
    assert found is not None
    assert (found.kind, found.what) == (problem, "ifHCInOctets.3")


def test_it_names_the_types_in_a_wrong_type_problem() -> None:
    _, problem = read_int(rfc1902.OctetString(b"x"), specs.HC_IN_OCTETS, "ifHCInOctets.3")
    assert problem == Problem(
        ValueProblem.WRONG_TYPE, "ifHCInOctets.3", "expected Counter64, got OctetString"
    )


@pytest.mark.parametrize(
    ("value", "spec"),
    [
        (rfc1902.Integer(0), specs.OPER_STATUS),
        (rfc1902.Integer(8), specs.OPER_STATUS),
        (rfc1902.Integer(99), specs.OPER_STATUS),
        (rfc1902.Integer(4), specs.ADMIN_STATUS),
        (rfc1902.Integer(-5), specs.UPS_MINUTES_REMAINING),
        (rfc1902.Integer(101), specs.UPS_CHARGE),
        (rfc1902.Integer(-1), specs.ENGINE_BOOTS),
        (rfc1902.Integer(9), specs.UPS_BATTERY_STATUS),
    ],
)
def test_it_calls_an_impossible_number_absurd(value: object, spec: specs.ValueSpec) -> None:
    expected = Problem(ValueProblem.ABSURD, "x", _range(value, spec))
    assert read_int(value, spec, "x") == (None, expected)


def _range(value: object, spec: specs.ValueSpec) -> str:
    return f"{int(value)} is outside {spec.low}..{spec.high}"  # type: ignore[call-overload]


@pytest.mark.parametrize(
    ("number", "spec"),
    [
        (2**32, specs.IN_OCTETS),  # a counter beyond its bit width
        (2**64, specs.HC_IN_OCTETS),
        (-1, specs.HIGH_SPEED),  # a negative gauge
        (2**32, specs.SYS_UPTIME),
    ],
)
def test_it_calls_a_number_beyond_its_type_absurd(number: int, spec: specs.ValueSpec) -> None:
    problem = check_range(number, spec, "x")
    assert problem is not None
    assert problem.kind is ValueProblem.ABSURD


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (rfc1902.Integer(-70), -70.0),
        (rfc1902.Gauge32(55), 55.0),
        (rfc1902.Counter64(2**40), float(2**40)),
        (rfc1902.TimeTicks(100), 100.0),
        (rfc1902.OctetString(b"42.5"), 42.5),  # vendor MIBs give figures as DisplayString
        (rfc1902.OctetString(b" -3 "), -3.0),
    ],
)
def test_it_reads_a_custom_oid_as_a_number(value: object, expected: float) -> None:
    assert read_number(value, "load") == (expected, None)


@pytest.mark.parametrize(
    ("value", "problem"),
    [
        (rfc1902.OctetString(b"n/a"), ValueProblem.WRONG_TYPE),
        (rfc1902.OctetString(b"\xff\xfe"), ValueProblem.WRONG_TYPE),
        (rfc1902.OctetString(b"7" * 65), ValueProblem.WRONG_TYPE),  # too long for a figure
        (rfc1902.OctetString(b"nan"), ValueProblem.ABSURD),
        (rfc1902.OctetString(b"inf"), ValueProblem.ABSURD),
        (rfc1902.ObjectIdentifier("1.3.6"), ValueProblem.WRONG_TYPE),
        (rfc1902.IpAddress("10.0.0.1"), ValueProblem.WRONG_TYPE),
        (rfc1905.noSuchObject, ValueProblem.NO_SUCH_OBJECT),
    ],
)
def test_it_refuses_a_custom_oid_that_holds_no_number(value: object, problem: ValueProblem) -> None:
    assert kind(read_number(value, "load")) is problem


def test_it_reads_interface_names_as_text() -> None:
    assert read_text(rfc1902.OctetString(b"eth0")) == "eth0"
    assert read_text(rfc1902.OctetString(b"caf\xc3\xa9")) == "café"
    assert read_text(rfc1902.OctetString(b"\xff")) == "\ufffd"
    assert read_text(rfc1902.Integer(1)) is None
    assert read_text(rfc1905.noSuchInstance) is None
