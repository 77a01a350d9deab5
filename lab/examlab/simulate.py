"""Impairments of a site's or endpoint's devices: power, cell load, its SNMP agents.

`lab impair SITE power battery|mains|low`, `lab impair ENDPOINT cell-load PCT`
and `lab impair OWNER snmp stop|start|restart` land here: each changes the
running lab and records itself in the state (`LabState.owners`) so that
`status` shows it and tests can undo it.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from examlab import agents
from examlab.snmpd import agent_files, initial_state, simulated_oids
from examlab.state import LabState
from examlab.topology import LabPlan
from monitor.model.inventory import Device

SNMP_ACTIONS = ("stop", "start", "restart")


class NothingToImpairError(LookupError):
    """The site or endpoint has no device the impairment could act on."""


def _devices(plan: LabPlan, owner: str, devices: Mapping[str, Device]) -> list[Device]:
    return [d for _agent, d in agents.owned_devices(plan, owner, devices)]


def set_power(
    plan: LabPlan,
    state: LabState,
    owner: str,
    mode: str,
    *,
    devices: Mapping[str, Device],
    directory: Path,
) -> list[str]:
    """Mains, battery (minutes start falling) or low (a few minutes left); the UPS keys."""
    if not any(d.ups for d in _devices(plan, owner, devices)):
        raise NothingToImpairError(f"{owner} has no UPS device (a device with ups = true)")
    changed = agents.set_power(plan, owner, mode, devices, directory)
    state.owner(owner).power = None if mode == "mains" else mode
    return changed


def set_cell_load(
    plan: LabPlan,
    state: LabState,
    owner: str,
    percent: int,
    *,
    devices: Mapping[str, Device],
    directory: Path,
) -> list[str]:
    """Set the simulated custom OIDs (enterprises arc) of the owner's devices."""
    if not any(simulated_oids(d) for d in _devices(plan, owner, devices)):
        raise NothingToImpairError(
            f"{owner} has no device with a custom OID under 1.3.6.1.4.1 for the lab to simulate"
        )
    changed = agents.set_custom(plan, owner, percent, devices, directory)
    state.owner(owner).cell_load = percent
    return changed


def set_snmp(plan: LabPlan, state: LabState, owner: str, action: str, directory: Path) -> list[str]:
    """Stop, start or restart the owner's agents (a restart is a reboot to a poller:
    sysUpTime starts again from 0, snmpEngineBoots goes up by one)."""
    names = {a.name for a in plan.agents_of(owner)}
    if not names:
        raise NothingToImpairError(f"{owner} has no SNMP device")
    mine = [p for p in state.agents if p.name in names]
    if action in {"stop", "restart"}:
        agents.stop(mine)
    if action in {"start", "restart"}:
        stopped = [plan.agent(p.name) for p in mine if action == "restart" or not p.running()]
        started = {p.name: p for p in agents.start(plan, stopped, directory)}
        state.agents = [started.get(p.name, p) for p in state.agents]
    else:
        state.agents = [agents.AgentProcess(p.name, 0, 0) if p in mine else p for p in state.agents]
    state.owner(owner).snmp_stopped = action == "stop"
    return sorted(names)


def restore_owner(
    plan: LabPlan,
    state: LabState,
    owner: str,
    devices: Mapping[str, Device],
    directory: Path,
) -> None:
    """Back to how `lab up` left it: agents running, UPS on mains, initial figures."""
    impaired = state.owner(owner)
    if impaired.snmp_stopped:
        set_snmp(plan, state, owner, "start", directory)
    for agent, device in agents.owned_devices(plan, owner, devices):
        initial = initial_state(device)
        if initial is not None:
            path = agent_files(directory, agent).device_state(device.id)
            agents.write_state(path, initial)
    impaired.power = None
    impaired.cell_load = None
