"""End-to-end alert latency: a lab link cut, to the webhook receiving the page.

    sudo .venv/bin/python benchmarks/alert_latency.py [--trials 10] [--group-wait 1s,5s]

Builds its own namespace lab (prefix `exl`, 10.88.0.0/16: no test uses
them) from tests/data/lab-sites.toml, with an exam session running now,
probes every 10 s (`probe.session_interval`), `down_after = up_after = 2`,
and runs the real `examnet run` on it. Each `--group-wait` value is one
webhook notifier on a loopback recording server, reached by its own route
for critical alerts (`continue = true`): one trial measures every value at
once, with the same cut.

The cut links are untied from their router's interfaces (their
`interface = {...}` is left out): the carrier-side cut would otherwise show as
ifOperStatus down on the router's next SNMP poll, and the figures would be
SNMP's, not the probes' (`--snmp-link-status` keeps the ties and measures
that path instead). `flap_changes` is raised: the benchmark cuts the same
links again and again on purpose, and a FLAPPING link's downs are quiet.

A trial: wait until the link is up and calm, sleep a random part of the
probe interval (so the cut falls anywhere in the probe schedule), record
t0, cut the link with `examnet lab impair SITE/LINK down --side carrier`,
and wait for each webhook's first firing notification naming the link's
`down` alert: detection latency = receipt − t0. Then `impair ... up` and
wait for the resolved notification: resolve latency = receipt − t_up (the
repair, too, after a random part of the interval).

Traffic goes only to loopback and to the lab this run creates; the monitor
starts only once the lab's route exists. The lab is always taken down and
the monitor stopped (by its PID), whatever happens.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import re
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from examlab.environment import load_lab_inventory  # noqa: E402
from monitor.labguard import lab_route_present  # noqa: E402
from monitor.model.inventory import Lab  # noqa: E402
from tests.fixtures.monitor import (  # noqa: E402
    MonitorProcess,
    calendar_around,
    config_with,
)
from tests.fixtures.receivers import Received, RecordingServer  # noqa: E402

PREFIX = "exl"
NETWORK = "10.88.0.0/16"
INTERVAL = 10.0  # probe.interval and probe.session_interval, seconds
K = 2  # thresholds.down_after and up_after
ROUND = 0.7  # a round: (count 3 - 1) x echo_interval 100ms + timeout 500ms
ENGINE_FLUSH = 1.0  # monitor/alerting.py FLUSH_EVERY
OUTBOX_POLL = 0.5  # alerts/outbox.py POLL_EVERY
# Neither is the address of its site's router (the SNMP polls go on) and neither
# is the vt-bts link (active only on the file's exam dates).
LINKS = ("thpt-a/vt-4g", "thcs-b/vnpt-copper")
TRIAL_TIMEOUT = 120.0
RUN_BUDGET = 25 * 60.0
COMMAND_TIMEOUT = 60.0


@dataclass(frozen=True)
class Stamped:
    at: float  # time.time() when the request arrived
    request: Received


class TimedReceiver(RecordingServer):
    """The tests' recording server, each request stamped on arrival."""

    def __init__(self) -> None:
        super().__init__()
        self.stamped: list[Stamped] = []
        self._lock = threading.Lock()

    def record(self, request: Received) -> None:
        with self._lock:
            self.stamped.append(Stamped(time.time(), request))
        super().record(request)

    def since(self, t: float) -> list[Stamped]:
        with self._lock:
            return [s for s in self.stamped if s.at >= t]


@dataclass
class Trial:
    number: int
    link: str
    command_s: float = 0.0
    detect: dict[str, float | None] = field(default_factory=dict)
    resolve: dict[str, float | None] = field(default_factory=dict)
    reason: str = ""


def seconds(text: str) -> float:
    match = re.fullmatch(r"(\d+(?:\.\d+)?)(ms|s|m)", text.strip())
    if match is None:
        raise argparse.ArgumentTypeError(f"expected a duration like 0s, 5s or 1m, got {text!r}")
    value, unit = float(match.group(1)), match.group(2)
    return value / 1000 if unit == "ms" else value * 60 if unit == "m" else value


def waits(text: str) -> list[str]:
    values = [v.strip() for v in text.split(",") if v.strip()]
    for v in values:
        seconds(v)
    if not values or len(set(values)) != len(values):
        raise argparse.ArgumentTypeError("expected distinct durations, comma-separated")
    return values


def path_of(wait: str) -> str:
    return "/gw-" + wait.replace(".", "_")


def alerting(url: str, group_waits: list[str], group_interval: str) -> str:
    parts = ['[alerting]\nlanguage = "en"\n']
    for wait in group_waits:
        parts.append(
            f'[[notifiers]]\nid = "page{path_of(wait)[1:]}"\nkind = "webhook"\n'
            f'url = "{url}{path_of(wait)}"\n'
        )
    for wait in group_waits:
        parts.append(
            f"[[routes]]\nmatchers = ['severity=\"critical\"', 'session!=\"\"']\n"
            f'receivers = ["page{path_of(wait)[1:]}"]\ngroup_wait = "{wait}"\n'
            f'group_interval = "{group_interval}"\ncontinue = true\n'
        )
    parts.append('[[routes]]\nreceivers = ["log"]\n')
    return "\n".join(parts)


def untie(text: str, link: str) -> str:
    """The file without the link's `interface = {...}`: its router's ifOperStatus
    no longer speaks for it, so only the probes can find it down."""
    site, link_id = link.split("/")
    blocks = re.split(r"(?=^\[\[sites\]\]\n)", text, flags=re.M)
    for i, block in enumerate(blocks):
        if block.startswith("[[sites]]") and re.search(rf'^id = "{site}"$', block, re.M):
            pattern = (
                rf'(\[\[sites\.links\]\]\nid = "{link_id}"\n(?:(?!^\[).*\n)*?)interface = .*\n'
            )
            blocks[i], count = re.subn(pattern, r"\1", block, count=1, flags=re.M)
            if count != 1:
                raise ValueError(f"no interface line for {link}")
            return "".join(blocks)
    raise ValueError(f"no site {site}")


def write_config(directory: Path, url: str, args: argparse.Namespace) -> Path:
    now = datetime.now(UTC)
    calendar = calendar_around(now, -timedelta(minutes=10), timedelta(hours=2))
    probe = (
        '[probe]\ncount = 3\necho_interval = "100ms"\ntimeout = "500ms"\n'
        f'interval = "{INTERVAL:.0f}s"\nsession_interval = "{INTERVAL:.0f}s"\n'
    )
    lab = f'[lab]\nnetwork = "{NETWORK}"\nprefix = "{PREFIX}"\n'
    path = config_with(directory, calendar=calendar, probe=probe, lab=lab)
    text = path.read_text(encoding="utf-8").replace('"10.79.', '"10.88.')
    # the benchmark cuts the same links over and over on purpose: with the default
    # flap_changes (5 in 15 min) they would turn FLAPPING, whose DOWNs are quiet
    thresholds = (
        f"[thresholds]\ndown_after = {K}\nup_after = {K}\nflap_changes = 1000\n"
        'congestion_sustain = "12s"\ncongestion_hold = "12s"\n'
    )
    text = re.sub(r"^\[thresholds\]\n(?:(?!^\[).*\n)*", thresholds + "\n", text, flags=re.M)
    if not args.snmp_link_status:
        for link in args.links:
            text = untie(text, link)
    text += "\n" + alerting(url, args.group_wait, args.group_interval)
    path.write_text(text, encoding="utf-8")
    return path


def lab(config: Path, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    done = subprocess.run(
        [sys.executable, "-m", "monitor", "lab", *args, "--config", str(config)],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=COMMAND_TIMEOUT,
        check=False,
    )
    if check and done.returncode != 0:
        raise RuntimeError(f"lab {' '.join(args)} exited {done.returncode}: {done.stderr}")
    return done


def bodies(hook: TimedReceiver, path: str, t: float) -> list[tuple[float, dict[str, Any]]]:
    return [(s.at, json.loads(s.request.body)) for s in hook.since(t) if s.request.path == path]


def about(alert: dict[str, Any], link: str) -> bool:
    labels = alert["labels"]
    return bool(labels.get("subject") == f"link:{link}" and labels.get("kind") == "down")


def first(hook: TimedReceiver, path: str, t: float, link: str, status: str) -> float | None:
    for at, body in bodies(hook, path, t):
        if any(a["status"] == status and about(a, link) for a in body["alerts"]):
            return at
    return None


def wait_until(condition: Callable[[], bool], deadline: float, every: float = 0.05) -> bool:
    while not condition():
        if time.monotonic() > deadline:
            return False
        time.sleep(every)
    return True


@dataclass
class Bench:
    """What a trial works with: the file, the running monitor, the webhooks' receiver."""

    config: Path
    monitor: MonitorProcess
    hook: TimedReceiver
    paths: list[str]

    def link_up(self, link: str) -> bool:
        return self.monitor.state("target", f"link:{link}") == "up"

    def wait_for_all(
        self, t: float, link: str, status: str, deadline: float
    ) -> dict[str, float | None]:
        """Seconds from t to each webhook's first notification with the link's alert."""

        def done() -> bool:
            return all(first(self.hook, p, t, link, status) is not None for p in self.paths)

        wait_until(done, deadline)
        found = {p: first(self.hook, p, t, link, status) for p in self.paths}
        return {p: None if at is None else at - t for p, at in found.items()}

    def settle(self, links: list[str]) -> None:
        """Every link up, then two probe intervals for the first notifications to go out."""
        deadline = time.monotonic() + 60
        if not wait_until(lambda: all(self.link_up(k) for k in links), deadline, every=0.5):
            raise RuntimeError(f"not all of {links} came up within 60 s")
        time.sleep(2 * INTERVAL)

    def reason_of(self, t: float, link: str) -> str:
        for _, body in bodies(self.hook, self.paths[0], t):
            for a in body["alerts"]:
                if a["status"] == "firing" and about(a, link):
                    return str(a["details"].get("reason", ""))
        return ""

    def trial(self, number: int, link: str) -> Trial:
        trial = Trial(number, link)
        deadline = time.monotonic() + TRIAL_TIMEOUT
        if not wait_until(lambda: self.link_up(link), deadline, every=0.5):
            raise RuntimeError(f"{link} is not up before trial {number}")
        time.sleep(random.uniform(0, INTERVAL))  # anywhere in the probe schedule
        t0 = time.time()
        lab(self.config, "impair", link, "down", "--side", "carrier")
        trial.command_s = time.time() - t0
        try:
            trial.detect = self.wait_for_all(t0, link, "firing", deadline)
            trial.reason = self.reason_of(t0, link)
        finally:
            time.sleep(random.uniform(0, INTERVAL))  # the repair, too, anywhere in the schedule
            t_up = time.time()
            lab(self.config, "impair", link, "up", "--side", "carrier")
        trial.resolve = self.wait_for_all(t_up, link, "resolved", deadline)
        return trial


def show(value: float | None) -> str:
    return "timeout" if value is None else f"{value:.1f}"


def print_table(trials: list[Trial], group_waits: list[str]) -> None:
    heads = [f"detect gw={w}" for w in group_waits] + [f"resolve gw={w}" for w in group_waits]
    print(f"{'#':>2} {'link':<20} {'cmd s':>5} " + " ".join(f"{h:>15}" for h in heads))
    for t in trials:
        cells = [show(t.detect.get(path_of(w))) for w in group_waits]
        cells += [show(t.resolve.get(path_of(w))) for w in group_waits]
        print(
            f"{t.number:>2} {t.link:<20} {t.command_s:>5.1f} " + " ".join(f"{c:>15}" for c in cells)
        )
    reasons = sorted({t.reason for t in trials if t.reason})
    print(f"# reasons the down alerts gave: {reasons}")


def summary(trials: list[Trial], group_waits: list[str], group_interval: str) -> None:
    print(
        f"# probe interval {INTERVAL:.0f} s, down_after = up_after = {K}, "
        f"group_interval {group_interval}, {len(trials)} trials"
    )
    for w in group_waits:
        gw = seconds(w)
        for what, pick in (("detection", "detect"), ("resolve", "resolve")):
            got = [getattr(t, pick).get(path_of(w)) for t in trials]
            values = [v for v in got if v is not None]
            lost = len(got) - len(values)
            if values:
                print(
                    f"group_wait {w}: {what} latency median {statistics.median(values):.1f} s, "
                    f"max {max(values):.1f} s" + (f" ({lost} timed out)" if lost else "")
                )
        loose = INTERVAL + K * INTERVAL + gw + OUTBOX_POLL
        tight = K * INTERVAL + ROUND + gw + ENGINE_FLUSH + OUTBOX_POLL
        print(
            f"group_wait {w}: bound interval + K x interval + group_wait + outbox "
            f"= {loose:.1f} s; tighter, K x interval + round {ROUND} + group_wait + "
            f"flush {ENGINE_FLUSH} + outbox {OUTBOX_POLL} = {tight:.1f} s"
        )
    loose = INTERVAL + K * INTERVAL + OUTBOX_POLL
    tight = K * INTERVAL + ROUND + ENGINE_FLUSH + OUTBOX_POLL
    print(
        f"resolve: no group_wait (the group exists), bound interval + K x interval + outbox "
        f"= {loose:.1f} s; tighter {tight:.1f} s; later only within group_interval "
        f"({group_interval}) of the group's last notification"
    )


def others(hook: TimedReceiver, links: tuple[str, ...]) -> tuple[list[str], int]:
    """Alerts the webhooks heard about anything but the cut links; duplicate ids."""
    seen: set[str] = set()
    duplicates = 0
    extra: set[str] = set()
    for s in hook.since(0):
        body = json.loads(s.request.body)
        duplicates += body["id"] in seen
        seen.add(body["id"])
        for a in body["alerts"]:
            if not any(about(a, link) for link in links):
                extra.add(f"{a['labels'].get('kind')}:{a['labels'].get('subject')}")
    return sorted(extra), duplicates


def check_routed(lab_: Lab) -> None:
    if not lab_route_present(lab_):
        raise RuntimeError(f"{lab_.network} is not routed into the lab: not starting the monitor")


def measure(args: argparse.Namespace, config: Path, hook: TimedReceiver, tmp: Path) -> None:
    paths = [path_of(w) for w in args.group_wait]
    run_deadline = time.monotonic() + RUN_BUDGET
    lab(config, "down", check=False)  # what an aborted run may have left
    inventory = load_lab_inventory(config, os.environ)
    assert inventory.lab is not None
    monitor = MonitorProcess(config, tmp / "examnet.db", tmp / "examnet.log")
    bench = Bench(config, monitor, hook, paths)
    try:
        lab(config, "up")
        check_routed(inventory.lab)
        monitor.start()
        print(
            f"# monitor PID {monitor.process.pid if monitor.process else '?'}, "
            f"log {monitor.log_path}",
            flush=True,
        )
        bench.settle(args.links)
        trials: list[Trial] = []
        for n in range(1, args.trials + 1):
            if time.monotonic() + TRIAL_TIMEOUT + INTERVAL > run_deadline:
                print(f"# run budget spent: stopping after {len(trials)} trials")
                break
            trial = bench.trial(n, args.links[(n - 1) % len(args.links)])
            trials.append(trial)
            print(
                f"# trial {n}: {trial.link} detect {trial.detect} resolve {trial.resolve}",
                flush=True,
            )
        print_table(trials, args.group_wait)
        summary(trials, args.group_wait, args.group_interval)
        extra, duplicates = others(hook, tuple(args.links))
        print(
            f"# {len(hook.stamped)} notifications in all; {duplicates} duplicate ids; "
            f"alerts about anything else: {extra or 'none'}"
        )
    except BaseException:
        print(f"# the monitor's log, last lines:\n{monitor.log()[-3000:]}", file=sys.stderr)
        raise
    finally:
        code = monitor.stop()
        lab(config, "down", check=False)
        print(f"# monitor exited {code}; lab {PREFIX} removed", flush=True)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=10)
    parser.add_argument(
        "--group-wait",
        type=waits,
        default=waits("1s,5s"),
        help="comma-separated group_wait values, a route each (default 1s,5s; 0s is refused)",
    )
    parser.add_argument(
        "--group-interval",
        default="10s",
        help="the routes' group_interval; a resolution waits for it (default 10s)",
    )
    parser.add_argument(
        "--links",
        type=lambda s: s.split(","),
        default=list(LINKS),
        help=f"SITE/LINK,... cut in turn (default {','.join(LINKS)})",
    )
    parser.add_argument(
        "--snmp-link-status",
        action="store_true",
        help="keep the cut links tied to their router's interfaces: the carrier-side cut then "
        "shows as ifOperStatus down on the next SNMP poll (every 6 s here), before the probes",
    )
    args = parser.parse_args()
    seconds(args.group_interval)
    hook = TimedReceiver()
    hook.start()
    try:
        with tempfile.TemporaryDirectory(prefix="examnet-alert-latency-") as name:
            tmp = Path(name)
            config = write_config(tmp, hook.url, args)
            print(
                f"# {datetime.now(UTC):%Y-%m-%d %H:%M} UTC, lab {PREFIX} {NETWORK}, "
                f"links {args.links}, group_waits {args.group_wait}, the cut links' down found "
                + ("by SNMP ifOperStatus or probes" if args.snmp_link_status else "by probes only"),
                flush=True,
            )
            measure(args, config, hook, tmp)
    finally:
        hook.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
