"""ICMP throughput, CPU, memory and fidelity: examnet's probe beside fping.

    sudo .venv/bin/python benchmarks/icmp.py [--targets 100,1000,5000] [--lab sites.toml]

Every configuration runs in a fresh process, so its peak RSS is its own.
Targets are addresses in 127.1.0.0/16 (loopback answers all of 127/8, true
RTT ~0.01 ms) and, with --lab, the hosts of a running lab. Fidelity: ten
reference addresses are probed alone, then again inside the largest run;
a monitor that inflates RTT under its own load would report congestion
that is not there.

Only loopback and lab addresses are probed, and the lab only while its
route exists (the same guard `examnet run` uses).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import resource
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from monitor.config import load_inventory  # noqa: E402
from monitor.labguard import lab_route_present  # noqa: E402
from monitor.model.inventory import ProbeSettings, Target  # noqa: E402
from monitor.model.vocabulary import TargetKind  # noqa: E402
from probes.icmp import IcmpProber  # noqa: E402
from probes.pinger import SocketMode  # noqa: E402

REFERENCES = [f"127.1.0.{i}" for i in range(1, 11)]
PING_RANGE = Path("/proc/sys/net/ipv4/ping_group_range")
NOBODY = 65534


def loopback_targets(n: int) -> list[str]:
    """n distinct loopback addresses, the references first, never .0 or .255."""
    out = list(REFERENCES[:n])
    i = len(out)
    while len(out) < n:
        third, fourth = divmod(i, 254)
        out.append(f"127.1.{third}.{fourth + 1}")
        i += 1
    return out


def percentile(values: list[float], q: float) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


# --- workers (each in its own process) ----------------------------------------


async def _examnet_rounds(addresses: list[str], args: argparse.Namespace) -> dict:
    settings = ProbeSettings(
        count=args.count, echo_interval=args.period, timeout=args.timeout,
        interval=3600, session_interval=3600,
    )
    targets = [
        Target(key=f"endpoint:{a}", kind=TargetKind.ENDPOINT, address=a, carrier="bench")
        for a in addresses
    ]
    prober = IcmpProber(mode=SocketMode(args.mode), max_rate=args.rate)
    rtts: dict[str, list[float]] = {a: [] for a in addresses}
    sent = lost = 0
    cpu0 = time.process_time()
    wall0 = time.monotonic()
    for _ in range(args.rounds):
        observations = await asyncio.gather(*(prober.probe(t, settings) for t in targets))
        for obs in observations:
            if obs.error:
                raise SystemExit(f"round failed: {obs.error}")
            for echo in obs.echoes:
                sent += 1
                if echo.rtt is None:
                    lost += 1
                else:
                    rtts[obs.address].append(echo.rtt * 1000)
    cpu = time.process_time() - cpu0
    wall = time.monotonic() - wall0
    await prober.aclose()
    return {"sent": sent, "lost": lost, "cpu": cpu, "wall": wall, "rtts": rtts,
            "mode": str(prober.pinger.mode(2))}


def _fping_rounds(addresses: list[str], args: argparse.Namespace) -> dict:
    rtts: dict[str, list[float]] = {a: [] for a in addresses}
    sent = lost = 0
    cpu = wall = 0.0
    rss = 0
    for _ in range(args.rounds):
        started = time.monotonic()
        proc = subprocess.Popen(
            ["fping", "-C", str(args.count), "-p", str(int(args.period * 1000)),
             "-i", str(1000 / args.rate), "-t", str(int(args.timeout * 1000)), "-q"],
            stdin=subprocess.PIPE, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
        )
        assert proc.stdin is not None
        assert proc.stderr is not None
        proc.stdin.write("\n".join(addresses) + "\n")
        proc.stdin.close()
        # ru_maxrss of a child counts the Python process it was forked from:
        # sample fping's own high-water mark while it runs instead.
        peak = [0]
        watcher = threading.Thread(target=_watch_rss, args=(proc.pid, peak), daemon=True)
        watcher.start()
        report = proc.stderr.read()
        _pid, _status, usage = os.wait4(proc.pid, 0)
        watcher.join()
        wall += time.monotonic() - started
        cpu += usage.ru_utime + usage.ru_stime
        rss = max(rss, peak[0])
        for line in report.splitlines():
            address, _, figures = line.partition(" : ")
            if address.strip() not in rtts:
                continue
            for value in figures.split():
                sent += 1
                if value == "-":
                    lost += 1
                else:
                    rtts[address.strip()].append(float(value))
    return {"sent": sent, "lost": lost, "cpu": cpu, "wall": wall, "rtts": rtts,
            "rss_kb": rss, "mode": "raw (setuid)"}


def _watch_rss(pid: int, peak: list[int]) -> None:
    status = Path(f"/proc/{pid}/status")
    while True:
        try:
            text = status.read_text()
        except OSError:
            return
        for line in text.splitlines():
            if line.startswith("VmHWM:"):
                peak[0] = max(peak[0], int(line.split()[1]))
        if "State:\tZ" in text:
            return
        time.sleep(0.02)


def worker(args: argparse.Namespace) -> None:
    addresses = json.loads(Path(args.addresses).read_text())
    if args.tool == "fping":
        result = _fping_rounds(addresses, args)
    else:
        result = asyncio.run(_examnet_rounds(addresses, args))
        result["rss_kb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    print(json.dumps(result))


# --- driver ---------------------------------------------------------------------


@contextlib.contextmanager
def ping_sockets_for_nobody(allow: bool) -> Iterator[bool]:
    """Whether user nobody may open ping sockets; with --allow, for this run only."""
    low, high = (int(x) for x in PING_RANGE.read_text().split())
    if low <= NOBODY <= high:
        yield True
        return
    if not allow or os.geteuid() != 0:
        yield False
        return
    old = PING_RANGE.read_text()
    PING_RANGE.write_text(f"0 {2**31 - 1}")
    try:
        yield True
    finally:
        PING_RANGE.write_text(old)


def run_worker(tool: str, mode: str, addresses: list[str], args: argparse.Namespace,
               tmp: Path) -> dict:
    path = tmp / "addresses.json"
    path.write_text(json.dumps(addresses))
    os.chmod(tmp, 0o755)  # noqa: S103 - the unprivileged worker (user nobody) reads it
    os.chmod(path, 0o644)
    command = [sys.executable, __file__, "--worker", "--tool", tool, "--mode", mode,
               "--addresses", str(path), "--rounds", str(args.rounds),
               "--count", str(args.count), "--period", str(args.period),
               "--timeout", str(args.timeout), "--rate", str(args.rate)]
    if mode == "unprivileged" and os.geteuid() == 0:
        command = ["setpriv", f"--reuid={NOBODY}", f"--regid={NOBODY}", "--clear-groups",
                   *command]
    done = subprocess.run(command, capture_output=True, text=True, check=False,
                          timeout=args.rounds * 120)
    if done.returncode != 0:
        raise SystemExit(f"{tool}/{mode} worker failed:\n{done.stderr}")
    result: dict = json.loads(done.stdout)
    return result


def row(label: str, tool: str, result: dict, n: int, args: argparse.Namespace) -> dict:
    all_rtts = [v for values in result["rtts"].values() for v in values]
    refs = [v for a in REFERENCES if a in result["rtts"] for v in result["rtts"][a]]
    return {
        "set": label, "tool": tool, "mode": result["mode"], "targets": n,
        "echoes": result["sent"],
        "echo_per_cpu_s": result["sent"] / result["cpu"] if result["cpu"] else float("inf"),
        "cpu_per_round": result["cpu"] / args.rounds,
        "wall_per_round": result["wall"] / args.rounds,
        "rss_mb": result["rss_kb"] / 1024,
        "loss": result["lost"] / result["sent"] if result["sent"] else None,
        "rtt_median_ms": percentile(all_rtts, 0.5), "rtt_p99_ms": percentile(all_rtts, 0.99),
        "ref_median_ms": percentile(refs, 0.5), "ref_p99_ms": percentile(refs, 0.99),
    }


def print_table(rows: list[dict]) -> None:
    head = (f"{'set':<10} {'tool':<8} {'mode':<13} {'targets':>7} {'echoes':>7} "
            f"{'echo/CPU-s':>10} {'CPU s/rnd':>9} {'wall/rnd':>8} {'RSS MB':>7} {'loss':>6} "
            f"{'RTT p50':>8} {'RTT p99':>8} {'ref p50':>8} {'ref p99':>8}")
    print(head)
    print("-" * len(head))

    def ms(v: float | None) -> str:
        return f"{v:8.3f}" if v is not None else f"{'-':>8}"

    for r in rows:
        print(f"{r['set']:<10} {r['tool']:<8} {r['mode']:<13} {r['targets']:>7} {r['echoes']:>7} "
              f"{r['echo_per_cpu_s']:>10.0f} {r['cpu_per_round']:>9.3f} "
              f"{r['wall_per_round']:>8.2f} {r['rss_mb']:>7.1f} {r['loss']:>6.1%} "
              f"{ms(r['rtt_median_ms'])} {ms(r['rtt_p99_ms'])} "
              f"{ms(r['ref_median_ms'])} {ms(r['ref_p99_ms'])}")


def lab_addresses(path: Path) -> list[str]:
    inventory = load_inventory(path, os.environ)
    if inventory.lab is None or not lab_route_present(inventory.lab):
        print(f"# lab of {path} is not up: its hosts are not probed "
              "(run `examnet lab up` first)", file=sys.stderr)
        return []
    return [t.address for t in inventory.targets()]


def modes_available(args: argparse.Namespace, nobody_ok: bool) -> list[str]:
    modes = []
    if os.geteuid() == 0:
        modes.append("raw")
    if nobody_ok or os.geteuid() != 0:
        modes.append("unprivileged")
    return [m for m in modes if m in args.modes.split(",")]


def drive(args: argparse.Namespace) -> None:
    sizes = [int(x) for x in args.targets.split(",")]
    rows: list[dict] = []
    with tempfile.TemporaryDirectory() as tmpdir, \
            ping_sockets_for_nobody(args.allow_ping_sockets) as nobody_ok:
        tmp = Path(tmpdir)
        modes = modes_available(args, nobody_ok)
        print(f"# {os.cpu_count()} CPUs, {args.rounds} rounds of {args.count} echoes "
              f"{args.period}s apart, at most {args.rate:.0f} requests/s; modes: {modes}",
              file=sys.stderr)
        sets = [("alone", REFERENCES)] + [(f"lo-{n}", loopback_targets(n)) for n in sizes]
        if args.lab:
            lab = lab_addresses(args.lab)
            if lab:
                sets.append(("lab", lab))
        for label, addresses in sets:
            for mode in modes:
                rows.append(row(label, "examnet",
                                run_worker("examnet", mode, addresses, args, tmp),
                                len(addresses), args))
            rows.append(row(label, "fping", run_worker("fping", "raw", addresses, args, tmp),
                            len(addresses), args))
            print(f"# {label} done", file=sys.stderr)
    print_table(rows)
    if args.json:
        args.json.write_text(json.dumps(rows, indent=2))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--targets", default="100,1000,5000")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--count", type=int, default=5)
    parser.add_argument("--period", type=float, default=1.0, help="seconds between echoes")
    parser.add_argument("--timeout", type=float, default=1.0)
    parser.add_argument("--rate", type=float, default=10000, help="requests per second")
    parser.add_argument("--modes", default="raw,unprivileged")
    parser.add_argument("--lab", type=Path, help="also probe the hosts of this lab file")
    parser.add_argument("--allow-ping-sockets", action="store_true",
                        help="as root, let user nobody open ping sockets for this run")
    parser.add_argument("--json", type=Path)
    parser.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--tool", default="examnet", help=argparse.SUPPRESS)
    parser.add_argument("--mode", default="auto", help=argparse.SUPPRESS)
    parser.add_argument("--addresses", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        worker(args)
    else:
        drive(args)


if __name__ == "__main__":
    main()
