"""The state of a running lab: what `lab up` made and what impairs it, in one file.

`/run/examnet-lab/{prefix}.json` is written *before* anything is created and
lists every namespace and root link to make, so `down` removes exactly that
even after a crash halfway; it also keeps the impairments, floods and agents
of the running lab. /run is a tmpfs: after a reboot neither the lab nor its
state survives, which is what we want. `StateStore.locked` serialises changes.
"""

from __future__ import annotations

import fcntl
import json
import logging
import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from examlab import agents
from examlab.processes import is_running, stop_process
from examlab.topology import LabPlan

log = logging.getLogger(__name__)

STATE_DIR = Path("/run/examnet-lab")
FLOOD_STOP_TIMEOUT = 3.0


@dataclass
class Impairment:
    down: bool = False  # the carrier side
    rate: str | None = None
    loss: int | None = None
    site_down: bool = False  # the far side: the site's own interface (an endpoint's own veth)
    protect: list[str] = field(default_factory=list)  # traffic kept out of the rate's queue

    def is_clear(self) -> bool:
        return not (self.down or self.site_down) and self.rate is None and self.loss is None


@dataclass
class OwnerImpairment:
    """What the lab simulates wrongly at a site or endpoint: power, cell load, its agents."""

    power: str | None = None  # battery | low (None: mains)
    cell_load: int | None = None
    snmp_stopped: bool = False

    def is_clear(self) -> bool:
        return self.power is None and self.cell_load is None and not self.snmp_stopped


@dataclass
class Flood:
    pid: int
    start_ticks: int  # /proc/PID/stat field 22: with the pid, names one process for good
    target: str
    until: float  # wall-clock seconds


@dataclass
class LabState:
    prefix: str
    network: str
    fingerprint: str
    namespaces: list[str]
    root_links: list[str]
    created: str
    complete: bool = False
    impairments: dict[str, Impairment] = field(default_factory=dict)
    floods: list[Flood] = field(default_factory=list)
    plan: dict[str, Any] = field(default_factory=dict)
    agents: list[agents.AgentProcess] = field(default_factory=list)
    owners: dict[str, OwnerImpairment] = field(default_factory=dict)

    @classmethod
    def for_plan(cls, plan: LabPlan) -> LabState:
        return cls(
            prefix=plan.prefix,
            network=str(plan.network),
            fingerprint=plan.fingerprint(),
            namespaces=list(plan.namespace_names()),
            root_links=[plan.monitor_device],
            created=datetime.now(UTC).isoformat(timespec="seconds"),
            plan=plan.describe(),
        )

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> LabState:
        impairments = {k: Impairment(**v) for k, v in data.pop("impairments", {}).items()}
        floods = [Flood(**f) for f in data.pop("floods", [])]
        processes = [agents.AgentProcess(**a) for a in data.pop("agents", [])]
        owners = {k: OwnerImpairment(**v) for k, v in data.pop("owners", {}).items()}
        return cls(**data, impairments=impairments, floods=floods, agents=processes, owners=owners)

    def impairment(self, target: str) -> Impairment:
        return self.impairments.setdefault(target, Impairment())

    def owner(self, owner: str) -> OwnerImpairment:
        return self.owners.setdefault(owner, OwnerImpairment())

    def agents_up(self) -> bool:
        """Every agent not stopped on purpose still runs."""
        return all(a.running() for a in self.agents if a.pid)


class StateStore:
    """The state file of one lab, and a lock that serialises changes to any lab."""

    def __init__(self, prefix: str, directory: Path = STATE_DIR) -> None:
        self.prefix = prefix
        self.directory = directory

    @property
    def path(self) -> Path:
        return self.directory / f"{self.prefix}.json"

    @property
    def flood_log(self) -> Path:
        return self.directory / f"{self.prefix}.flood.log"

    @property
    def agents_dir(self) -> Path:
        """The agents' private files (0700): configs with secrets, logs, simulation state."""
        return self.directory / self.prefix

    @property
    def environment(self) -> Path:
        """The lab-only secrets of `examlab.environment` (0600)."""
        return self.directory / f"{self.prefix}.env"

    def load(self) -> LabState | None:
        try:
            return LabState.from_json(json.loads(self.path.read_text()))
        except FileNotFoundError:
            return None
        except (ValueError, TypeError) as exc:
            log.warning("state file %s is unreadable (%s): treating it as lost", self.path, exc)
            return None

    def save(self, state: LabState) -> None:
        self.directory.mkdir(mode=0o755, parents=True, exist_ok=True)
        temporary = self.path.with_suffix(".tmp")
        temporary.write_text(json.dumps(asdict(state), indent=1, ensure_ascii=False))
        temporary.replace(self.path)

    def remove(self) -> None:
        self.path.unlink(missing_ok=True)
        self.flood_log.unlink(missing_ok=True)
        agents.remove_files(self.agents_dir)
        self.environment.unlink(missing_ok=True)

    @contextmanager
    def locked(self) -> Iterator[None]:
        self.directory.mkdir(mode=0o755, parents=True, exist_ok=True)
        fd = os.open(self.directory, os.O_RDONLY)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            yield
        finally:
            os.close(fd)


def flood_running(flood: Flood) -> bool:
    return is_running(flood.pid, flood.start_ticks)


def stop_flood(flood: Flood) -> None:
    """Stop one flood by its PID (checked against its start time, so never another process)."""
    stop_process(flood.pid, flood.start_ticks, FLOOD_STOP_TIMEOUT, "flood")
