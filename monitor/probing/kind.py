"""What one kind of probe declares, once (as blackbox_exporter's prober map).

A kind names itself, says which inventory items it probes and at what
cadence (both read from the inventory at a moment of the calendar), how
long one probe may take, what an item that was not probed observed, and
how to wire itself at start-up: a `Probing`, the prober (item in,
observation out) joined to the pipeline its observations go to.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Generic, Protocol, TypeVar

from monitor.evaluation import Evaluator
from monitor.journal import Journal
from monitor.metrics import Metrics
from monitor.model.clock import Clock
from monitor.model.inventory import Inventory
from monitor.pipeline import Pipeline
from monitor.polls import DeviceSink
from probes.pinger import SocketMode

I = TypeVar("I", bound="Probed")  # noqa: E741
I_contra = TypeVar("I_contra", bound="Probed", contravariant=True)
O = TypeVar("O")  # noqa: E741
O_co = TypeVar("O_co", covariant=True)


class Probed(Protocol):
    """An inventory item a probe is sent to: a target, a device."""

    @property
    def key(self) -> str: ...

    @property
    def address(self) -> str: ...


class Prober(Protocol[I_contra, O_co]):
    """One kind's prober: an item in, an observation out (a failure is an observation)."""

    async def probe(self, item: I_contra) -> O_co: ...

    async def aclose(self) -> None: ...


class Probing(Prober[I_contra, O], Protocol):
    """A prober wired at start-up to the pipeline its observations go to."""

    def handle(self, item: I_contra, observation: O) -> None: ...


@dataclass(frozen=True, slots=True)
class ProbeOptions:
    """How this run may send probes (the command line's options, the lab's interface)."""

    socket_mode: SocketMode = SocketMode.AUTO
    max_rate: float | None = None
    bind_device: str | None = None  # the lab's interface, when there is a lab


@dataclass(frozen=True, slots=True)
class ProbeContext:
    """What a kind may wire itself to at start-up."""

    inventory: Inventory
    options: ProbeOptions
    store: DeviceSink
    metrics: Metrics
    evaluator: Evaluator
    journal: Journal  # records the state changes and incidents every kind's pipeline finds
    rounds: Pipeline  # the ICMP rounds' pipeline (its figures feed the targets' board)


def _always(_inventory: Inventory) -> bool:
    return True


@dataclass(frozen=True, slots=True)
class ProbeKind(Generic[I, O]):
    """One kind of probe, declared once; `registry.PROBES` lists them all."""

    name: str  # "icmp": names its jobs, its log lines, its interval
    noun: str  # what its items are called in the log: "targets"
    verb: str  # "probing", "polling"
    items_at: Callable[[Inventory, datetime], Sequence[I]]  # what is due at a moment
    interval_at: Callable[[Inventory, datetime], float]  # the cadence at a moment
    budget: Callable[[Inventory], float]  # the longest one probe can take (seconds)
    not_probed: Callable[[I, str, Clock], O]  # what an item not probed (and why) observed
    wire: Callable[[ProbeContext], Probing[I, O]]
    scheduled: Callable[[Inventory], bool] = _always  # whether this file has any to run


AnyKind = ProbeKind[Any, Any]
