"""Why a whole SNMP poll failed, in plain words: pure functions, no I/O.

Messages never hold a secret: they are built from fixed words and from
pysnmp's error-indication classes, never from the text of a message or an
exception (which might quote a community or a key).

What net-snmp does, and how it reaches us through pysnmp (NOTES, "pysnmp 7.1"):
a wrong v2c community is dropped silently, so it looks like a device that is
down; a wrong v3 privacy key too; a wrong v3 auth key is reported at once
(usmStatsWrongDigests, RFC 3414 3.2 step 6); an unknown user likewise; a
user asking below its allowed security level gets error-status 16.

An agent that restarted answers with a USM report instead (RFC 3414 3.2):
usmStatsUnknownEngineIDs when its engine ID changed, usmStatsNotInTimeWindows
when its boots or time did. Both are recovered from within the poll
(`snmp_usm`); only when that fails is the poll failed, and its message names
the cause, not "malformed".
"""

from __future__ import annotations

from dataclasses import dataclass

from pyasn1.error import PyAsn1Error
from pysnmp.proto import errind
from pysnmp.proto.error import StatusInformation

from monitor.model.inventory import SnmpV2c, SnmpV3
from probes.snmpdata import PollFailure
from probes.snmpwire import UsmStat

NO_ANSWER_V2C = "no answer (wrong community or device down)"
NO_ANSWER_V3 = "no answer (wrong privacy key or device down)"
NO_ANSWER = "no answer (device down or unreachable)"
WRONG_AUTH_KEY = "authentication failed (wrong auth key?)"
UNKNOWN_USER = "authentication failed (unknown user)"
LEVEL_NOT_ALLOWED = "authentication failed (security level not allowed)"
ENGINE_ID_CHANGED = (
    "engine ID changed: the agent reports an snmpEngineID other than the one we use "
    "(restarted or replaced), and re-discovery did not succeed"
)
NOT_IN_TIME_WINDOW = (
    "not in time window: the agent's snmpEngineBoots/snmpEngineTime disagree with ours "
    "(restarted without keeping them?), and resynchronising did not succeed"
)
UNUSABLE_ANSWERS = "malformed answer: the device sent data that could not be decoded or matched"
MISMATCHED_ANSWER = "malformed answer: it does not match the request"

AUTHORIZATION_ERROR = 16
TOO_BIG = 1

# RFC 3416 3: error-status values
ERROR_STATUS_NAMES = (
    "noError", "tooBig", "noSuchName", "badValue", "readOnly", "genErr", "noAccess",
    "wrongType", "wrongLength", "wrongEncoding", "wrongValue", "noCreation",
    "inconsistentValue", "resourceUnavailable", "commitFailed", "undoFailed",
    "authorizationError", "notWritable", "inconsistentName",
)  # fmt: skip


@dataclass(frozen=True, slots=True)
class Failure:
    """A whole-poll failure; `unexpected` ones are logged with their traceback."""

    kind: PollFailure
    message: str
    unexpected: bool = False


_AUTH = PollFailure.AUTH
_PRIVACY = PollFailure.PRIVACY
_MALFORMED = PollFailure.MALFORMED

# (indication class, failure kind, message); the first match wins
_INDICATIONS: tuple[tuple[type[errind.ErrorIndication], PollFailure, str], ...] = (
    (errind.WrongDigest, _AUTH, WRONG_AUTH_KEY),
    (errind.AuthenticationFailure, _AUTH, WRONG_AUTH_KEY),
    (errind.AuthenticationError, _AUTH, WRONG_AUTH_KEY),
    (errind.UnknownUserName, _AUTH, UNKNOWN_USER),
    (errind.UnknownSecurityName, _AUTH, UNKNOWN_USER),
    (errind.UnsupportedSecurityLevel, _AUTH, LEVEL_NOT_ALLOWED),
    (errind.NoAuthentication, _AUTH, "authentication failed (authentication unavailable)"),
    (errind.UnsupportedAuthProtocol, _AUTH, "authentication failed (unsupported protocol)"),
    (errind.NotInTimeWindow, _AUTH, NOT_IN_TIME_WINDOW),
    (errind.UnknownEngineID, _AUTH, ENGINE_ID_CHANGED),
    (errind.EncryptionError, _PRIVACY, "privacy unavailable: cannot encrypt"),
    (errind.DecryptionError, _PRIVACY, "privacy unavailable: cannot decrypt the answer"),
    (errind.NoEncryption, _PRIVACY, "privacy unavailable: no encryption configured"),
    (errind.UnsupportedPrivProtocol, _PRIVACY, "privacy unavailable: unsupported protocol"),
    (errind.DeserializationError, _MALFORMED, "malformed answer: it could not be decoded"),
    (errind.EmptyResponse, _MALFORMED, "malformed answer: empty"),
    (errind.DataMismatch, _MALFORMED, MISMATCHED_ANSWER),
    (errind.OidNotIncreasing, _MALFORMED, "malformed answer: OIDs not increasing"),
    (errind.ReportPduReceived, PollFailure.ERROR_STATUS, "the agent reported an error"),
)


def silence(credentials: SnmpV2c | SnmpV3) -> str:
    """What no answer at all may mean, given what the agent would drop silently."""
    if isinstance(credentials, SnmpV2c):
        return NO_ANSWER_V2C
    return NO_ANSWER_V3 if credentials.priv_key is not None else NO_ANSWER


def no_answer(silence: str) -> Failure:
    return Failure(PollFailure.TIMEOUT, silence)


def mismatched() -> Failure:
    return Failure(PollFailure.MALFORMED, MISMATCHED_ANSWER)


def unusable_answers() -> Failure:
    return Failure(PollFailure.MALFORMED, UNUSABLE_ANSWERS)


def silent_or_garbled(garbled: bool, silence: str, report: UsmStat | None = None) -> Failure:
    """A timeout from a device that did send us something: what it sent was unusable,
    or it was a USM report (RFC 3414 3.2) that could not be acted on: named for it."""
    if not garbled:
        return no_answer(silence)
    if report is not None:
        return from_report(report)
    return unusable_answers()


# what a usmStats report means (RFC 3414 5), when it could not be taken in
_REPORTS = {
    UsmStat.UNSUPPORTED_SEC_LEVELS: LEVEL_NOT_ALLOWED,
    UsmStat.NOT_IN_TIME_WINDOWS: NOT_IN_TIME_WINDOW,
    UsmStat.UNKNOWN_USER_NAMES: UNKNOWN_USER,
    UsmStat.UNKNOWN_ENGINE_IDS: ENGINE_ID_CHANGED,
    UsmStat.WRONG_DIGESTS: WRONG_AUTH_KEY,
    UsmStat.DECRYPTION_ERRORS: "privacy refused: the agent could not decrypt our request",
}


def from_report(stat: UsmStat) -> Failure:
    kind = _PRIVACY if stat is UsmStat.DECRYPTION_ERRORS else _AUTH
    return Failure(kind, _REPORTS[stat])


def from_indication(indication: object, silence: str) -> Failure:
    """A pysnmp error indication (the first member of its result tuple)."""
    if isinstance(indication, errind.RequestTimedOut):
        return no_answer(silence)
    if isinstance(indication, str):  # pysnmp's "badResponse": request-id or model mismatch
        return Failure(PollFailure.MALFORMED, MISMATCHED_ANSWER)
    for cls, kind, message in _INDICATIONS:
        if isinstance(indication, cls):
            return Failure(kind, message)
    return Failure(PollFailure.INTERNAL, f"unexpected SNMP engine error: {_name(indication)}", True)


def from_status(status: int, oid: str | None = None) -> Failure:
    """A response PDU's non-zero error-status (RFC 3416 3)."""
    if status == AUTHORIZATION_ERROR:
        return Failure(PollFailure.AUTH, LEVEL_NOT_ALLOWED)
    name = status_name(status)
    where = f" at {oid}" if oid else ""
    return Failure(PollFailure.ERROR_STATUS, f"the agent answered {name}{where}")


def status_name(status: int) -> str:
    if 0 <= status < len(ERROR_STATUS_NAMES):
        return ERROR_STATUS_NAMES[status]
    return f"errorStatus {status}"


def from_exception(exc: BaseException, silence: str) -> Failure:
    """An exception out of pysnmp or pyasn1 (they are caught around every call).

    pysnmp raises its StatusInformation (e.g. "Ciphering services not
    available") with an error indication inside: that one is classified.
    """
    indication = exc.get("errorIndication") if isinstance(exc, StatusInformation) else None
    if isinstance(indication, errind.ErrorIndication):
        return from_indication(indication, silence)
    if isinstance(exc, PyAsn1Error):
        return Failure(PollFailure.MALFORMED, "malformed answer: it could not be decoded")
    return Failure(PollFailure.INTERNAL, f"unexpected error: {_name(exc)}", True)


def _name(thing: object) -> str:
    return type(thing).__name__
