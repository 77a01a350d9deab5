"""SNMP poll throughput and CPU: examnet's poller beside net-snmp's snmpbulkwalk.

    sudo .venv/bin/python benchmarks/snmp.py [--interfaces 50] [--seconds 10]

A real snmpd serves 50 interfaces (25 veth pairs) in a network namespace of
its own (`exb-snmpbench`, deleted afterwards); the poller runs inside the
namespace too, so every packet stays in it. Printed side by side, for v2c
(examnet's own BER codec, `probes/snmpwire.py`) and for v3 authPriv
(SHA-256 + AES, pysnmp):

- CPU per poll of one device watching all 50 interfaces by name, in steady
  state (names already resolved), and the requests each poll takes;
- devices polled per second, and CPU per poll, with many devices (all this
  agent) polled at once for a bounded time;
- snmpbulkwalk of the same ten columns on the same agent (its CPU from
  os.wait4);
- the cores 1,000 such devices every 60 s take (issue #3's aim: one core,
  i.e. <= 60 ms of CPU per poll), from the worse of the two CPU figures.

The whole run is bounded (a few seconds per figure, under two minutes).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import replace
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from monitor.model.inventory import Device  # noqa: E402
from probes import snmpdata as oids  # noqa: E402
from probes.snmp import SnmpProber  # noqa: E402
from tests.fixtures.snmpd import SnmpAgent, watch  # noqa: E402

NAMESPACE = "exb-snmpbench"  # exb-: this benchmark's own prefix, no lab's cleanup touches it
COLUMNS = (
    oids.IF_OPER_STATUS, oids.IF_ADMIN_STATUS, oids.IF_HC_IN_OCTETS, oids.IF_HC_OUT_OCTETS,
    oids.IF_IN_ERRORS, oids.IF_OUT_ERRORS, oids.IF_IN_DISCARDS, oids.IF_OUT_DISCARDS,
    oids.IF_HIGH_SPEED, oids.IF_COUNTER_DISCONTINUITY,
)  # fmt: skip
DEVICES_PER_CORE_GOAL = 1000
GOAL_INTERVAL = 60.0
INNER_TIMEOUT = 110.0


# --- outside: the namespace ---------------------------------------------------


def _ip(*args: str, stdin: str | None = None) -> None:
    subprocess.run(["ip", *args], input=stdin, text=True, check=True, capture_output=True)


@contextmanager
def namespace(interfaces: int) -> Iterator[None]:
    """A namespace with `interfaces` veth ends (pairs inside it) and lo, always deleted."""
    subprocess.run(["ip", "netns", "del", NAMESPACE], capture_output=True, check=False)
    _ip("netns", "add", NAMESPACE)
    try:
        pairs = (interfaces + 1) // 2
        lines = ["link set lo up"]
        for i in range(pairs):
            lines += [f"link add exb-a{i} type veth peer name exb-b{i}",
                      f"link set exb-a{i} up", f"link set exb-b{i} up"]  # fmt: skip
        _ip("-n", NAMESPACE, "-batch", "-", stdin="\n".join(lines) + "\n")
        yield
    finally:
        subprocess.run(["ip", "netns", "del", NAMESPACE], capture_output=True, check=False)


def interface_names(interfaces: int) -> list[str]:
    pairs = (interfaces + 1) // 2
    names = [f"exb-a{i}" for i in range(pairs)] + [f"exb-b{i}" for i in range(pairs)]
    return names[:interfaces]


def outside(args: argparse.Namespace) -> int:
    if os.geteuid() != 0:
        print("needs root: a network namespace and veth interfaces", file=sys.stderr)
        return 2
    missing = [p for p in ("ip", "snmpd", "snmpbulkwalk") if shutil.which(p) is None]
    if missing:
        print(f"needs {', '.join(missing)}", file=sys.stderr)
        return 2
    with namespace(args.interfaces):
        command = ["ip", "netns", "exec", NAMESPACE, sys.executable, __file__, "--inside",
                   "--interfaces", str(args.interfaces), "--seconds", str(args.seconds),
                   "--devices", str(args.devices), "--polls", str(args.polls),
                   *(["--json"] if args.json else [])]  # fmt: skip
        done = subprocess.run(command, check=False, timeout=INNER_TIMEOUT)
        return done.returncode


# --- inside: the agent and the figures -----------------------------------------


async def steady_cpu(device: Device, polls: int) -> dict[str, float]:
    """CPU seconds per poll once names are resolved; requests per poll."""
    prober = SnmpProber()
    try:
        for _ in range(2):
            first = await prober.probe(device)
            assert first.error is None, first.error
            assert len(first.interfaces) == len(device.interfaces), first.problems
        cpu, wall = time.process_time(), time.perf_counter()
        requests = 0
        for _ in range(polls):
            observation = await prober.probe(device)
            assert observation.error is None, observation.error
            requests += observation.requests
        cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
    finally:
        await prober.aclose()
    return {"cpu_per_poll": cpu / polls, "wall_per_poll": wall / polls,
            "requests_per_poll": requests / polls}  # fmt: skip


async def throughput(device: Device, devices: int, seconds: float) -> dict[str, float]:
    """Polls of `devices` distinct devices (this one agent), as many at once as allowed."""
    prober = SnmpProber()
    fleet = [replace(device, id=f"{device.id}-{n}") for n in range(devices)]
    try:
        await asyncio.gather(*(prober.probe(d) for d in fleet))  # names resolved once each
        done = failed = 0
        cpu, start = time.process_time(), time.perf_counter()
        deadline = start + seconds

        async def keep_polling(d: Device) -> None:
            nonlocal done, failed
            while time.perf_counter() < deadline:
                observation = await prober.probe(d)
                done += 1
                failed += observation.error is not None

        await asyncio.gather(*(keep_polling(d) for d in fleet))
        cpu, wall = time.process_time() - cpu, time.perf_counter() - start
    finally:
        await prober.aclose()
    return {"polls_per_s": done / wall, "failed": failed, "cpu_share": cpu / wall,
            "cpu_per_poll": cpu / max(done, 1)}  # fmt: skip


def bulkwalk_cpu(agent: SnmpAgent, v3: bool, runs: int) -> dict[str, float]:
    """CPU seconds (user + system, from os.wait4) of snmpbulkwalk over the ten columns."""
    if v3:
        auth = ["-v3", "-l", "authPriv", "-u", agent.user, "-a", "SHA-256", "-A", agent.auth_key,
                "-x", "AES", "-X", agent.priv_key]  # fmt: skip
    else:
        auth = ["-v2c", "-c", agent.community]
    env = {**os.environ, "MIBS": ""}
    total = 0.0
    rows = 0
    for _ in range(runs):
        for column in COLUMNS:
            command = ["snmpbulkwalk", *auth, "-On", "-Cr50", f"udp:{agent.address}:{agent.port}",
                       column]  # fmt: skip
            child = subprocess.Popen(command, stdout=subprocess.PIPE, env=env)
            assert child.stdout is not None
            with child.stdout:
                out = child.stdout.read()
            _pid, status, usage = os.wait4(child.pid, 0)  # reaped here, for its rusage
            child.returncode = os.waitstatus_to_exitcode(status)
            assert child.returncode == 0, f"snmpbulkwalk failed ({child.returncode})"
            total += usage.ru_utime + usage.ru_stime
            rows += out.count(b"\n")
    return {"cpu_per_walk": total / runs, "values": rows / runs}


def agent_device(agent: SnmpAgent, names: list[str], v3: bool) -> Device:
    interfaces = tuple(watch(n) for n in names)
    device = agent.v3(*interfaces) if v3 else agent.v2c(*interfaces)
    return replace(device, timeout=2.0, retries=1)


async def figures(agent: SnmpAgent, args: argparse.Namespace, v3: bool) -> dict[str, float]:
    device = agent_device(agent, interface_names(args.interfaces), v3)
    steady = await steady_cpu(device, args.polls)
    busy = await throughput(device, args.devices, args.seconds)
    walk = await asyncio.to_thread(bulkwalk_cpu, agent, v3, 5)
    return {**steady, **{f"busy_{k}": v for k, v in busy.items()}, **walk}


LABELS = (("v2c", "v2c (examnet codec)", False), ("v3", "v3 authPriv (pysnmp)", True))
ROWS = (  # (label, figure, format)
    ("CPU per poll, steady", "cpu_per_poll", "ms"),
    ("CPU per poll, many devices at once", "busy_cpu_per_poll", "ms"),
    ("requests per poll", "requests_per_poll", "n"),
    ("wall time per poll, steady", "wall_per_poll", "ms"),
    ("devices polled per s, many at once", "busy_polls_per_s", "rate"),
    ("  share of a core meanwhile", "busy_cpu_share", "%"),
    ("  polls failed", "busy_failed", "n"),
    ("snmpbulkwalk CPU, the 10 columns", "cpu_per_walk", "ms"),
    ("cores for 1,000 devices every 60 s", "cores", "cores"),
)


def cores(f: dict[str, float]) -> float:
    """Cores 1,000 devices polled every 60 s take, at the worse of the two CPU figures."""
    return DEVICES_PER_CORE_GOAL * max(f["cpu_per_poll"], f["busy_cpu_per_poll"]) / GOAL_INTERVAL


def _cell(value: float, kind: str) -> str:
    return {"ms": f"{value * 1000:.1f} ms", "n": f"{value:.0f}", "rate": f"{value:.1f}",
            "%": f"{value * 100:.0f} %", "cores": f"{value:.2f}"}[kind]  # fmt: skip


def report(results: dict[str, dict[str, float]], interfaces: int, devices: int) -> None:
    print(f"\nOne poll of a device watching {interfaces} interfaces by name; "
          f"'many at once' = {devices} devices; snmpd of net-snmp in {NAMESPACE}")  # fmt: skip
    print(f"\n  {'':38}" + "".join(f"{title:>24}" for _, title, _ in LABELS))
    for label, key, kind in ROWS:
        cells = "".join(f"{_cell(results[name][key], kind):>24}" for name, _, _ in LABELS)
        print(f"  {label:38}{cells}")
    budget = GOAL_INTERVAL / DEVICES_PER_CORE_GOAL
    print(f"\nAim (issue #3): 1,000 such devices every 60 s within one core, i.e. "
          f"<= {budget * 1000:.0f} ms of CPU per poll.")  # fmt: skip
    for name, title, _ in LABELS:
        need = results[name]["cores"]
        verdict = "meets it" if need <= 1.0 else "does NOT meet it"
        print(f"  {title}: {verdict} ({need:.2f} core(s) for 1,000 devices)")


def inside(args: argparse.Namespace) -> int:
    with tempfile.TemporaryDirectory(prefix="exb-snmpbench-") as directory:
        agent = SnmpAgent(Path(directory) / "snmpd", address="127.0.0.1")
        agent.start()
        try:
            results = {}
            for name, _title, v3 in LABELS:
                results[name] = asyncio.run(figures(agent, args, v3))
                results[name]["cores"] = cores(results[name])
        finally:
            agent.stop()
    report(results, args.interfaces, args.devices)
    if args.json:
        print(json.dumps(results, indent=2))
    return 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--interfaces", type=int, default=50)
    parser.add_argument("--seconds", type=float, default=8.0, help="throughput run, per version")
    parser.add_argument("--devices", type=int, default=50, help="devices polled at once")
    parser.add_argument("--polls", type=int, default=20, help="polls for the steady CPU figure")
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--inside", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    return inside(args) if args.inside else outside(args)


if __name__ == "__main__":
    sys.exit(main())
