"""The lab's SNMP agents: one real net-snmp snmpd per agent of the plan, in its namespace.

Started at `lab up` once the network is there, stopped at `lab down` by the
PIDs the state file recorded (SIGTERM, SIGKILL after a grace). Each agent
keeps its files in `/run/examnet-lab/{prefix}/{agent}/` (0700): snmpd.conf
(0600, it holds the devices' secrets), its persistent directory, its log and
pid file, and the JSON state of the UPS or custom OIDs it simulates, which
`lab impair SITE power ...` and `... cell-load ...` rewrite.

    SNMP_PERSISTENT_DIR=DIR MIBS="" snmpd -f -Lf LOG -C -c CONF,DIR/snmpd.conf -I -smux \
        -p PID udp:ADDR:PORT

(`-C`: no system configuration, which leaves out the persistent file too,
so it is named after CONF: with it snmpEngineBoots counts restarts and the
engine ID stays; `-I -smux`: no SMUX listener on TCP 199, which would clash
between agents.) The environment is built from scratch,
so no variable of the operator's (secrets included) reaches the agent.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import struct
import subprocess
import sys
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from ipaddress import IPv4Address
from pathlib import Path
from typing import Any

from examlab.errors import LabError
from examlab.processes import is_running, start_ticks, stop_process
from examlab.snmpd import (
    AgentFiles,
    agent_files,
    initial_state,
    listen_spec,
    simulated_oids,
    snmpd_conf,
)
from examlab.topology import AgentPlan, LabPlan
from examlab.ups_agent import FULL_MINUTES, LOW_MINUTES, read_state
from monitor.model.inventory import Device

log = logging.getLogger(__name__)

STOP_GRACE = 3.0
READY_TIMEOUT = 10.0
POLL = 0.02
DEFAULT_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
POWER_MODES = ("mains", "battery", "low")


@dataclass
class AgentProcess:
    """A running snmpd as the state file records it (pid 0: stopped on purpose)."""

    name: str
    pid: int
    start_ticks: int

    def running(self) -> bool:
        return is_running(self.pid, self.start_ticks)


# --- files --------------------------------------------------------------------------


def _private_directory(path: Path) -> None:
    path.mkdir(mode=0o700, parents=True, exist_ok=True)
    path.chmod(0o700)


def write_private(path: Path, text: str) -> None:
    """Write a file only root can read, replacing any old one whole."""
    temporary = path.with_name(f".{path.name}.tmp")
    temporary.unlink(missing_ok=True)
    fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as out:
        out.write(text)
    temporary.replace(path)


def devices_of(agent: AgentPlan, devices: Mapping[str, Device]) -> list[Device]:
    return [devices[key] for key in agent.devices]


def _conf_text(
    plan: LabPlan, agent: AgentPlan, devices: Mapping[str, Device], directory: Path
) -> str:
    files = agent_files(directory, agent)
    served = devices_of(agent, devices)
    return snmpd_conf(agent, served, plan.monitor.network, files, sys.executable)


def prepare(plan: LabPlan, devices: Mapping[str, Device], directory: Path) -> None:
    """Every agent's private directory, snmpd.conf and simulation state."""
    _private_directory(directory)
    for agent in plan.agents:
        files = agent_files(directory, agent)
        _private_directory(files.directory)
        _private_directory(files.persistent)
        if not files.persistent_conf.exists():
            write_private(files.persistent_conf, "")
        write_private(files.conf, _conf_text(plan, agent, devices, directory))
        for device in devices_of(agent, devices):
            state = initial_state(device)
            if state is not None:
                write_state(files.device_state(device.id), state)


def stale(plan: LabPlan, devices: Mapping[str, Device], directory: Path) -> list[AgentPlan]:
    """Agents whose snmpd.conf is not what these devices ask for (a secret changed),
    with the new one written: they must be restarted to read it."""
    changed = []
    for agent in plan.agents:
        conf = agent_files(directory, agent).conf
        text = _conf_text(plan, agent, devices, directory)
        try:
            same = conf.read_text(encoding="utf-8") == text
        except OSError:
            same = False
        if not same:
            write_private(conf, text)
            changed.append(agent)
    return changed


def remove_files(directory: Path) -> None:
    shutil.rmtree(directory, ignore_errors=True)


# --- processes ----------------------------------------------------------------------


def snmpd_argv(agent: AgentPlan, files: AgentFiles) -> list[str]:
    return [
        "ip", "netns", "exec", agent.namespace,
        "snmpd", "-f", "-Lf", str(files.log), "-C", "-c", f"{files.conf},{files.persistent_conf}",
        "-I", "-smux", "-p", str(files.pidfile), listen_spec(agent),
    ]  # fmt: skip


def snmpd_environment(files: AgentFiles) -> dict[str, str]:
    return {
        "PATH": os.environ.get("PATH", DEFAULT_PATH),
        "HOME": str(files.directory),
        "SNMP_PERSISTENT_DIR": str(files.persistent),
        "MIBS": "",  # numeric OIDs only: Debian ships no MIB files
    }


def launch(agent: AgentPlan, directory: Path) -> AgentProcess:
    """Start one agent; `ip netns exec` execs snmpd, so the PID is snmpd's own."""
    files = agent_files(directory, agent)
    files.pidfile.unlink(missing_ok=True)
    with files.log.open("ab") as output:
        process = subprocess.Popen(
            snmpd_argv(agent, files),
            env=snmpd_environment(files),
            cwd=files.directory,
            stdin=subprocess.DEVNULL,
            stdout=output,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    return AgentProcess(agent.name, process.pid, start_ticks(process.pid))


def _udp_key(address: IPv4Address, port: int) -> str:
    # /proc/net/udp prints the raw 32-bit word in host byte order
    return f"{struct.unpack('=I', address.packed)[0]:08X}:{port:04X}"


def listening(pid: int, agent: AgentPlan) -> bool:
    """Whether the process has bound every port of the agent (its namespace's UDP table)."""
    try:
        lines = Path(f"/proc/{pid}/net/udp").read_text().splitlines()[1:]
    except OSError:
        return False
    bound = {line.split()[1] for line in lines if len(line.split()) > 1}
    return all(_udp_key(agent.address, port) in bound for port in agent.ports)


def secret_words(conf: Path) -> set[str]:
    """The communities and v3 keys an snmpd.conf holds."""
    words: set[str] = set()
    try:
        lines = conf.read_text(encoding="utf-8").splitlines()
    except OSError:
        return words
    for parts in (line.split() for line in lines):
        if parts[:1] == ["rocommunity"]:
            words.update(parts[1:2])
        elif parts[:1] == ["createUser"]:
            words.update(p.strip('"') for p in parts[3::2])  # USER AUTH "key" PRIV "key"
    return words


def log_tail(files: AgentFiles, lines: int = 5) -> str:
    """The end of an agent's log for an error message, any secret in it masked."""
    try:
        text = " | ".join(files.log.read_text(errors="replace").strip().splitlines()[-lines:])
    except OSError:
        return "(no log)"
    for word in secret_words(files.conf):
        text = text.replace(word, "<secret>")
    return text or "(empty log)"


def wait_ready(plan: LabPlan, processes: Iterable[AgentProcess], directory: Path) -> None:
    """Until every agent listens; LabError naming the first that died or never did."""
    waiting = {p.name: p for p in processes if p.pid}
    deadline = time.monotonic() + READY_TIMEOUT
    while waiting:
        for name, process in list(waiting.items()):
            agent = plan.agent(name)
            if listening(process.pid, agent):
                del waiting[name]
            elif not process.running() or time.monotonic() > deadline:
                files = agent_files(directory, agent)
                raise LabError(
                    f"snmpd for {', '.join(agent.devices)} at {listen_spec(agent)} in "
                    f"{agent.namespace} did not start: {log_tail(files)} (log: {files.log})"
                )
        time.sleep(POLL)


def start(plan: LabPlan, agents: Iterable[AgentPlan], directory: Path) -> list[AgentProcess]:
    """Start these agents together and wait until each listens; stop them all on failure."""
    processes = [launch(agent, directory) for agent in agents]
    try:
        wait_ready(plan, processes, directory)
    except LabError:
        stop(processes)
        raise
    return processes


def stop(processes: Iterable[AgentProcess]) -> None:
    """SIGTERM each, SIGKILL after the grace; by PID and start time only."""
    for process in processes:
        if process.pid:
            stop_process(process.pid, process.start_ticks, STOP_GRACE, "snmpd")


def recorded_pids(directory: Path) -> list[AgentProcess]:
    """snmpd processes named by the pid files under `directory`, for a lost state file.

    A PID counts only while its command line names that very pid file (`-p
    FILE`, an argument of its own: `-c` carries two configs joined by a comma),
    so a recycled PID is never signalled.
    """
    found = []
    for pidfile in directory.glob("*/snmpd.pid"):
        try:
            pid = int(pidfile.read_text().split()[0])
            cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
        except (OSError, ValueError, IndexError):
            continue
        if str(pidfile).encode() in cmdline:
            found.append(AgentProcess(pidfile.parent.name, pid, start_ticks(pid)))
    return found


# --- simulated devices ----------------------------------------------------------------


def write_state(path: Path, state: dict[str, Any]) -> None:
    """Replace a device's simulation state whole: the script never reads half a file."""
    write_private(path, json.dumps(state))


def _update_state(path: Path, change: dict[str, Any]) -> None:
    state = read_state(path)
    state.update(change)
    write_state(path, state)


def ups_state(mode: str, now: float, current: dict[str, Any]) -> dict[str, Any]:
    """The UPS part of a state file after switching to mains, battery or low battery."""
    if mode == "mains":
        return {**current, "on_battery_since": None}
    if mode == "battery":
        if current.get("on_battery_since") is not None:
            return current  # already on battery: its minutes keep falling
        return {**current, "on_battery_since": now, "minutes_at_switch": FULL_MINUTES}
    # low: on battery, a few minutes left, upsBatteryStatus batteryLow
    return {**current, "on_battery_since": now, "minutes_at_switch": LOW_MINUTES - 1}


def owned_devices(
    plan: LabPlan, owner: str, devices: Mapping[str, Device]
) -> list[tuple[AgentPlan, Device]]:
    return [(a, d) for a in plan.agents_of(owner) for d in devices_of(a, devices)]


def set_power(
    plan: LabPlan, owner: str, mode: str, devices: Mapping[str, Device], directory: Path
) -> list[str]:
    """Switch the UPS devices of a site (or endpoint); their keys, or [] when it has none."""
    changed = []
    for agent, device in owned_devices(plan, owner, devices):
        if device.ups:
            path = agent_files(directory, agent).device_state(device.id)
            current = read_state(path).get("ups", {})
            _update_state(path, {"ups": ups_state(mode, time.time(), current)})
            changed.append(device.key)
    return changed


def set_custom(
    plan: LabPlan, owner: str, value: int, devices: Mapping[str, Device], directory: Path
) -> list[str]:
    """Set every simulated custom OID of the owner's devices; their names, or []."""
    changed = []
    for agent, device in owned_devices(plan, owner, devices):
        oids = simulated_oids(device)
        if oids:
            path = agent_files(directory, agent).device_state(device.id)
            values = dict(read_state(path).get("values", {}))
            values.update({o.oid.lstrip("."): value for o in oids})
            _update_state(path, {"values": values})
            changed += [f"{device.key} {o.name}" for o in oids]
    return changed
