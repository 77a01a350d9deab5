"""The SNMP probe: one poll of one device, in the fewest round trips.

`SnmpProber.probe(device)` never raises for a device's fault: no answer, a
refused key, garbage on the wire or a broken value become an observation
with `error`/`failure` set, or a `Problem` beside the values that stand.

A poll is one GET (split every ~40 varbinds) of the scalars and of the
watched interfaces' columns, addressed by ifIndex. Interface names become
ifIndex through a GETBULK walk of ifName (then ifDescr and ifAlias for the
names still unknown), done once and cached; again only when the device
rebooted, when a cached ifIndex stopped answering, or, every few polls,
while a name is still not found. Reading ifName on every poll is what makes
other exporters slow on big devices.
"""

from __future__ import annotations

import asyncio
import logging
import traceback
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from monitor.model.inventory import Device
from probes import snmp_failures, snmp_names, snmp_plan
from probes.snmp_failures import Failure
from probes.snmp_plan import DEFAULT_MAX_VARBINDS, DeviceState, Reading
from probes.snmp_session import DEFAULT_MAX_CONCURRENCY, Answer, SnmpSession
from probes.snmp_values import oid_of
from probes.snmpdata import PollFailure, SnmpObservation
from probes.snmpwire import oid_tuple

KIND = "snmp"

log = logging.getLogger(__name__)


@dataclass
class _Poll:
    """One poll so far: when it began, its round trips, when the last answer came."""

    started_at: datetime
    began: float  # the loop's clock
    requests: int = 0
    received_at: float | None = None
    resolved: bool = False

    def took(self, answer: Answer) -> Answer:
        self.requests += 1
        if answer.failure is None:
            self.received_at = answer.received_at
        return answer


@dataclass
class _Result:
    reading: Reading | None = None
    failure: Failure | None = None


class SnmpProber:
    """Polls devices over one shared SNMP engine; remembers each device's ifIndex map."""

    kind = KIND

    def __init__(
        self, max_concurrency: int = DEFAULT_MAX_CONCURRENCY, *, bind_device: str | None = None
    ) -> None:
        self.session = SnmpSession(max_concurrency, bind_device=bind_device)
        self._states: dict[str, DeviceState] = {}

    async def probe(self, device: Device) -> SnmpObservation:
        loop = asyncio.get_running_loop()
        poll = _Poll(started_at=datetime.now(UTC), began=loop.time())
        state = self._states.setdefault(device_key(device), DeviceState())
        try:
            result = await self._poll(device, state, poll)
        except Exception as exc:  # one device must never stop a run
            failure = snmp_failures.from_exception(exc, snmp_failures.silence(device.credentials))
            self._log_unexpected(device, state, failure, exc)
            result = _Result(failure=failure)
        observation = _observation(device, poll, loop.time(), result)
        self._count(state, observation)
        return observation

    def counts(self, device_key: str) -> dict[str, int]:
        """Failed polls by `PollFailure` and unreadable values by `ValueProblem` value,
        since the prober started (kinds never seen are absent)."""
        state = self._states.get(device_key)
        return dict(state.counts) if state is not None else {}

    async def aclose(self) -> None:
        await self.session.aclose()

    # --- one poll ------------------------------------------------------------

    async def _poll(self, device: Device, state: DeviceState, poll: _Poll) -> _Result:
        """GET what the state says; once more when the answer changed the state (a
        reboot, a vanished ifIndex, no 64-bit counters): names are walked at most once."""
        state.polls_since_resolution += 1
        for _attempt in range(2):
            if state.needs_resolution(device):
                failure = await self._resolve(device, state, poll)
                if failure is not None:
                    return self._failed(device, state, failure)
            values, failure = await self._get(device, state, snmp_plan.plan(device, state), poll)
            if failure is not None:
                return self._failed(device, state, failure)
            reading = snmp_plan.read(device, state, values)
            changed = snmp_plan.learn(device, state, reading)
            if not changed or (poll.resolved and state.needs_resolution(device)):
                break  # stale names are walked again at the next poll
        return _Result(reading=reading)

    async def _resolve(self, device: Device, state: DeviceState, poll: _Poll) -> Failure | None:
        poll.resolved = True
        names = tuple(dict.fromkeys(i.name for i in device.interfaces if i.name is not None))
        outcome = await snmp_names.resolve(self.session, device, names, poll.took)
        if isinstance(outcome, Failure):
            return outcome
        found, missing = outcome
        state.resolved(found, missing)
        return None

    async def _get(self, device: Device, state: DeviceState, wanted: list[str],
                   poll: _Poll) -> tuple[dict[str, Any], Failure | None]:  # fmt: skip
        parts = snmp_plan.chunks(wanted, state.max_varbinds)
        results = await asyncio.gather(*(self._get_chunk(device, state, p, poll) for p in parts))
        values: dict[str, Any] = {}
        for part_values, failure in results:
            if failure is not None:
                return {}, failure
            values.update(part_values)
        return values, None

    async def _get_chunk(self, device: Device, state: DeviceState, wanted: list[str],
                         poll: _Poll) -> tuple[dict[str, Any], Failure | None]:  # fmt: skip
        answer = poll.took(await self.session.get(device, wanted))
        if answer.failure is not None:
            return {}, answer.failure
        if answer.error_status == snmp_failures.TOO_BIG:
            if len(wanted) > 1:  # RFC 3416 4.2.1: it would not fit; ask in halves from now on
                state.max_varbinds = max(1, len(wanted) // 2)
                return await self._get(device, state, wanted, poll)
            state.max_varbinds = DEFAULT_MAX_VARBINDS  # too big for one value: not about size
        if answer.error_status:
            return {}, snmp_failures.from_status(answer.error_status, _at(wanted, answer))
        return _match(wanted, answer.varbinds)

    # --- failures, counts, logs ------------------------------------------------

    def _failed(self, device: Device, state: DeviceState, failure: Failure) -> _Result:
        if failure.unexpected:
            self._log_unexpected(device, state, failure, None)
        return _Result(failure=failure)

    def _log_unexpected(self, device: Device, state: DeviceState, failure: Failure,
                        exc: BaseException | None) -> None:  # fmt: skip
        if failure.message in state.logged:
            return
        state.logged.add(failure.message)
        trace = "".join(traceback.format_exception(exc)) if exc is not None else ""
        log.error("SNMP poll of %s: %s\n%s", device_key(device), failure.message,
                  self._scrub(trace))  # fmt: skip

    def _scrub(self, text: str) -> str:
        """No secret in a log line, even inside a library's exception text."""
        for secret in sorted(self.session.credentials.revealed, key=len, reverse=True):
            text = text.replace(secret, "<secret>")
        return text

    @staticmethod
    def _count(state: DeviceState, observation: SnmpObservation) -> None:
        if observation.failure is not None:
            state.counts[observation.failure.value] += 1
        for problem in observation.problems:
            state.counts[problem.kind.value] += 1


def device_key(device: Device) -> str:
    return device.key  # "device:{owner}/{id}", stable across reloads


def _match(
    wanted: list[str], varbinds: Iterable[tuple[Any, Any]]
) -> tuple[dict[str, Any], Failure | None]:
    """A GET answer holds the requested OIDs in order (RFC 3416 4.2.1), or it is malformed."""
    answered = list(varbinds)
    if len(answered) != len(wanted):
        return {}, snmp_failures.mismatched()
    values: dict[str, Any] = {}
    for oid, (name, value) in zip(wanted, answered, strict=True):
        if oid_of(name) != oid_tuple(oid):
            return {}, snmp_failures.mismatched()
        values[oid] = value
    return values, None


def _at(wanted: list[str], answer: Answer) -> str | None:
    index = answer.error_index
    return wanted[index - 1] if 0 < index <= len(wanted) else None


def _observation(device: Device, poll: _Poll, ended: float, result: _Result) -> SnmpObservation:
    common: dict[str, Any] = {
        "device": device_key(device),
        "address": device.address,
        "started_at": poll.started_at,
        "duration": ended - poll.began,
        "requests": poll.requests,
    }
    reading = result.reading
    if reading is None:
        failure = result.failure or Failure(PollFailure.INTERNAL, "no reading", True)
        return SnmpObservation(**common, received_at=ended, error=failure.message,
                               failure=failure.kind)  # fmt: skip
    return SnmpObservation(
        **common,
        received_at=poll.received_at if poll.received_at is not None else ended,
        sys_uptime=reading.sys_uptime,
        engine_boots=reading.engine_boots,
        engine_time=reading.engine_time,
        interfaces=tuple(reading.interfaces),
        ups=reading.ups,
        oids=tuple(reading.oids),
        problems=tuple(reading.problems),
    )
