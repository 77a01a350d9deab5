"""SNMPv3 agents that restart: engine re-discovery on their USM reports (RFC 3414).

A v3 request carries the agent's snmpEngineID, snmpEngineBoots and
snmpEngineTime as the manager last learnt them (RFC 3414 2.3, 4). An agent
that restarted with a new engine ID (a reset or replaced device, lost
storage) answers usmStatsUnknownEngineIDs with its new engine ID, boots and
time, in the clear; one that kept its engine ID but not its clock answers
usmStatsNotInTimeWindows, authenticated. Either way the manager should
learn from the report and send the request again (RFC 3412 7.2.11).

pysnmp 7.1 does so for the time window: it takes boots and time from any
authenticated message. Not for a new engine ID: it keeps one engine ID per
agent address and learns it only while it has none (`prepareDataElements`
in `pysnmp.proto.mpmod.rfc3412`, for 300 s), so every request keeps the old
engine ID; and it drops the report itself, since the report echoes our user
name and pysnmp looks that user up under the new engine ID, where it has no
row. The request then timed out behind a datagram nobody understood: the
device was "malformed" for good, until examnet restarted.

`EngineWatch` sees each v3 report before pysnmp does (the socket calls it)
and, for a report that names an engine ID pysnmp does not use for that
address: gives each of our users at that address a row (its keys localised)
under the new engine ID, and puts the new engine ID in pysnmp's cache. pysnmp
then reads the report as it would the answer to its own discovery, learns
boots and time, and sends the request again at once: the poll answers.

The cache entry is replaced, never removed: pysnmp expires its entries by a
queue of keys and would fail on a key that is gone.
"""

from __future__ import annotations

import logging
from collections import Counter, defaultdict
from collections.abc import Callable
from typing import Any

from pysnmp.proto.rfc1902 import OctetString

from monitor.model.inventory import SnmpV3
from probes.snmpwire import UsmReport, UsmStat

log = logging.getLogger(__name__)

Address = tuple[str, int]
Register = Callable[[Any, SnmpV3, bytes], None]  # (transport target, credentials, engine ID)

MP_V3 = 3  # RFC 3411 5: the SNMPv3 message processing model
# pysnmp's per-address cache of agents' engine IDs (name-mangled private attribute)
_ENGINE_CACHE = "_SnmpV3MessageProcessingModel__engineIdCache"
# RFC 3411 5: SnmpEngineID ::= OCTET STRING (SIZE(5..32))
ENGINE_ID_SIZE = range(5, 33)


class EngineWatch:
    """Keeps pysnmp's engine ID of each v3 agent current, from the agents' reports."""

    def __init__(self, register: Register) -> None:
        self._register = register
        self._users: defaultdict[Address, dict[SnmpV3, Any]] = defaultdict(dict)
        self._rows: set[tuple[SnmpV3, bytes]] = set()  # user rows made per engine ID
        self.pending: Counter[Address] = Counter()  # v3 requests in flight, per address
        self._unsupported = False

    def watch(self, address: Address, credentials: SnmpV3, target: Any) -> None:
        """A v3 user polled at this address: it will need a row under a new engine ID."""
        self._users[address][credentials] = target

    def on_report(self, engine: Any, address: Address, report: UsmReport) -> None:
        """Called for every plaintext v3 report, before pysnmp reads it."""
        if report.stat is not UsmStat.UNKNOWN_ENGINE_IDS or not self.pending[address]:
            return  # only an answer to a request in flight: a forged report costs little
        if len(report.engine_id) not in ENGINE_ID_SIZE or address not in self._users:
            return
        for credentials, target in self._users[address].items():
            if (credentials, report.engine_id) not in self._rows:
                self._register(target, credentials, report.engine_id)
                self._rows.add((credentials, report.engine_id))
        if self._replace(engine, address, report):
            log.info("SNMP agent %s has a new engine ID: re-discovered", address[0])

    def _replace(self, engine: Any, address: Address, report: UsmReport) -> bool:
        cache = self._cache(engine)
        if cache is None:
            return False
        for key, known in cache.items():
            if _address(key[1]) != address:
                continue
            if bytes(known["securityEngineId"]) == report.engine_id:
                return False
            cache[key] = {  # as pysnmp's own entry, learnt from a report (RFC 3412 7.2.6)
                "securityEngineId": OctetString(report.engine_id),
                "contextEngineId": OctetString(report.context_engine_id or report.engine_id),
                "contextName": OctetString(report.context_name),
            }
            return True
        return False  # none cached: pysnmp learns it from this report itself

    def _cache(self, engine: Any) -> dict[tuple[Any, Any], dict[str, Any]] | None:
        model = engine.message_processing_subsystems.get(MP_V3)
        cache = getattr(model, _ENGINE_CACHE, None)
        if isinstance(cache, dict):
            return cache
        if not self._unsupported:  # a pysnmp whose insides changed: say so once
            self._unsupported = True
            log.error("pysnmp keeps no engine ID cache where examnet expects it: "
                      "agents that change their engine ID cannot be re-discovered")  # fmt: skip
        return None


def _address(address: Any) -> Address:
    return str(address[0]), int(address[1])
