"""Why a whole SNMP poll failed: error indications, error-status, exceptions."""

from __future__ import annotations

import pytest
from pyasn1.error import PyAsn1Error
from pysnmp.error import PySnmpError
from pysnmp.proto import errind
from pysnmp.proto.error import StatusInformation

from monitor.model.inventory import SnmpV2c, SnmpV3
from monitor.model.secrets import Secret
from monitor.model.vocabulary import AuthProtocol, PrivProtocol
from probes import snmp_failures
from probes.snmp_failures import Failure
from probes.snmpdata import PollFailure

V2C, V3 = snmp_failures.NO_ANSWER_V2C, snmp_failures.NO_ANSWER_V3


@pytest.mark.parametrize(
    ("indication", "v3", "expected"),
    [
        (errind.requestTimedOut, False, (PollFailure.TIMEOUT, snmp_failures.NO_ANSWER_V2C)),
        (errind.requestTimedOut, True, (PollFailure.TIMEOUT, snmp_failures.NO_ANSWER_V3)),
        (errind.wrongDigest, True, (PollFailure.AUTH, "authentication failed (wrong auth key?)")),
        (errind.unknownUserName, True, (PollFailure.AUTH, "authentication failed (unknown user)")),
        (errind.unknownSecurityName, True, (PollFailure.AUTH, snmp_failures.UNKNOWN_USER)),
        (errind.unsupportedSecurityLevel, True,
         (PollFailure.AUTH, snmp_failures.LEVEL_NOT_ALLOWED)),
        (errind.encryptionError, True,
         (PollFailure.PRIVACY, "privacy unavailable: cannot encrypt")),
        (errind.decryptionError, True,
         (PollFailure.PRIVACY, "privacy unavailable: cannot decrypt the answer")),
        (errind.unsupportedPrivProtocol, True,
         (PollFailure.PRIVACY, "privacy unavailable: unsupported protocol")),
        (errind.parseError, False,
         (PollFailure.MALFORMED, "malformed answer: it could not be decoded")),
        (errind.dataMismatch, False, (PollFailure.MALFORMED, snmp_failures.MISMATCHED_ANSWER)),
        ("badResponse", False, (PollFailure.MALFORMED, snmp_failures.MISMATCHED_ANSWER)),
        # pysnmp gave up re-discovering (RFC 3414 4): named for the cause, never "malformed"
        (errind.unknownEngineID, True, (PollFailure.AUTH, snmp_failures.ENGINE_ID_CHANGED)),
        (errind.notInTimeWindow, True, (PollFailure.AUTH, snmp_failures.NOT_IN_TIME_WINDOW)),
    ],
)  # fmt: skip
def test_it_words_each_error_indication(
    indication: object, v3: bool, expected: tuple[PollFailure, str]
) -> None:
    failure = snmp_failures.from_indication(indication, V3 if v3 else V2C)
    assert (failure.kind, failure.message) == expected
    assert not failure.unexpected


def test_it_says_what_no_answer_may_mean_for_the_credentials() -> None:
    community = SnmpV2c(Secret("c"))
    auth_priv = SnmpV3("u", AuthProtocol.SHA, Secret("a" * 8), PrivProtocol.AES, Secret("p" * 8))
    auth_only = SnmpV3("u", AuthProtocol.SHA, Secret("a" * 8))
    assert snmp_failures.silence(community) == "no answer (wrong community or device down)"
    assert snmp_failures.silence(auth_priv) == "no answer (wrong privacy key or device down)"
    assert snmp_failures.silence(auth_only) == "no answer (device down or unreachable)"


def test_it_logs_an_indication_it_does_not_know() -> None:
    failure = snmp_failures.from_indication(errind.loopTerminated, silence=V2C)
    assert failure == Failure(
        PollFailure.INTERNAL, "unexpected SNMP engine error: LoopTerminated", unexpected=True
    )


@pytest.mark.parametrize(
    ("status", "oid", "expected"),
    [
        (16, None, (PollFailure.AUTH, "authentication failed (security level not allowed)")),
        (5, "1.3.6.1.2.1.1.3.0",
         (PollFailure.ERROR_STATUS, "the agent answered genErr at 1.3.6.1.2.1.1.3.0")),
        (1, None, (PollFailure.ERROR_STATUS, "the agent answered tooBig")),
        (2, None, (PollFailure.ERROR_STATUS, "the agent answered noSuchName")),
        (18, None, (PollFailure.ERROR_STATUS, "the agent answered inconsistentName")),
        (77, None, (PollFailure.ERROR_STATUS, "the agent answered errorStatus 77")),
    ],
)  # fmt: skip
def test_it_names_the_error_status(
    status: int, oid: str | None, expected: tuple[PollFailure, str]
) -> None:
    failure = snmp_failures.from_status(status, oid)
    assert (failure.kind, failure.message) == expected


def test_it_classifies_the_indication_inside_a_raised_status_information() -> None:
    exc = StatusInformation(errorIndication=errind.encryptionError)
    failure = snmp_failures.from_exception(exc, silence=V3)
    assert failure.kind is PollFailure.PRIVACY


def test_it_calls_a_decoding_exception_malformed() -> None:
    failure = snmp_failures.from_exception(PyAsn1Error("bad"), silence=V2C)
    assert failure.kind is PollFailure.MALFORMED


def test_it_never_quotes_an_exception_text_that_may_hold_a_secret() -> None:
    failure = snmp_failures.from_exception(PySnmpError("community s3cr3t refused"), silence=V2C)
    assert failure.kind is PollFailure.INTERNAL
    assert failure.unexpected
    assert "s3cr3t" not in failure.message
    indication = errind.ErrorIndication("s3cr3t")
    assert "s3cr3t" not in snmp_failures.from_indication(indication, silence=V2C).message
