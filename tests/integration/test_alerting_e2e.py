"""`examnet run` end to end: real pings, a real outage, real receivers, kills and restarts.

Ten exam sites and their carriers' gateways live on loopback addresses; an
nftables rule in a table of our own drops the echo requests to Viettel's
gateway and the ten links behind it (a real outage as the prober sees it).
Notifications go to a webhook that checks the HMAC, to Debian's
Alertmanager and, by e-mail, to aiosmtpd with STARTTLS and AUTH. The
monitor is killed with SIGKILL twice: once after it notified (it must not
notify again), once while a notification waits for a receiver that is down
(it must deliver it after the restart, once).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from monitor.storage import Store
from tests.fixtures.environment import need_programs, need_root
from tests.fixtures.inventories import province, shared_site_silence
from tests.fixtures.monitor import REPO, MonitorProcess, calendar_around, wait_for
from tests.fixtures.receivers import Alertmanager, RecordingServer, SmtpServer, run_alertmanager

SECRET = "e2e-hook-secret-9d1c"  # noqa: S105 - the test's own
TABLE = "examnet_e2e_outage"  # ours alone: created and deleted by this test
GATEWAY = "127.0.8.1"  # vt-gw in tests.fixtures.inventories.province
VIETTEL_LINKS = [f"127.1.{i}.1" for i in range(10)]
SITES = {f"s{i}" for i in range(10)}
REPEAT = 20.0


def _nft(script: str) -> None:
    subprocess.run(["nft", "-f", "-"], input=script, text=True, check=True,
                   capture_output=True, timeout=10)


@pytest.fixture
def outage() -> Iterator[Callable[[bool], None]]:
    """outage(True) drops echo requests to the gateway and its links; outage(False) ends it."""
    need_root()
    need_programs("nft")
    subprocess.run(["nft", "delete", "table", "ip", TABLE], capture_output=True, check=False)
    addresses = ", ".join([GATEWAY, *VIETTEL_LINKS])
    _nft(f"add table ip {TABLE}\n"
         f"add chain ip {TABLE} out {{ type filter hook output priority 0 ; }}\n")

    def set_outage(on: bool) -> None:
        _nft(f"flush chain ip {TABLE} out\n" + (
            f"add rule ip {TABLE} out ip daddr {{ {addresses} }} icmp type echo-request drop\n"
            if on else ""))

    try:
        yield set_outage
    finally:
        subprocess.run(["nft", "delete", "table", "ip", TABLE], capture_output=True, check=False)


def config(directory: Path, hook: RecordingServer, am: Alertmanager, smtp: SmtpServer) -> Path:
    now = datetime.now(UTC)
    text = province()
    head, _, rest = text.partition("[calendar]")
    rest = rest[rest.index("[probe]"):]
    rest = rest.replace('interval = "10s"\nsession_interval = "10s"',
                        'interval = "2s"\nsession_interval = "2s"')
    calendar = calendar_around(now, -timedelta(minutes=10), timedelta(hours=2))
    path = directory / "sites.toml"
    path.write_text(head + calendar + rest + f'''
[alerting]
language = "en"
group_wait = "2s"
group_interval = "5s"
repeat_interval = "{REPEAT:.0f}s"

[[notifiers]]
id = "oncall"
kind = "webhook"
url = "{hook.url}/oncall"
secret = "${{EXAMNET_E2E_HOOK_SECRET}}"

[[notifiers]]
id = "boss"
kind = "webhook"
url = "{hook.url}/boss"

[[notifiers]]
id = "am"
kind = "alertmanager"
url = "{am.url}"
refresh = "3s"

{smtp.notifier("noc-mail", "noc@example.org", "EXAMNET_E2E_SMTP_PASSWORD")}
[[routes]]
matchers = ['severity="critical"']
receivers = ["oncall", "am", "noc-mail"]
escalate_to = "boss"
escalate_after = "15s"

{shared_site_silence(now)}''', encoding="utf-8")
    return path


def bodies(hook: RecordingServer, path: str) -> list[dict[str, Any]]:
    found = []
    for r in hook.requests:
        if r.path == path:
            if path == "/oncall":
                mac = hmac.new(SECRET.encode(), r.body, hashlib.sha256).hexdigest()
                assert r.headers["X-Examnet-Signature"] == f"sha256={mac}"
            found.append(json.loads(r.body))
    return found


def sites_of(body: dict[str, Any], status: str = "firing") -> set[str]:
    return {a["labels"]["site"] for a in body["alerts"]
            if a["status"] == status and a["labels"].get("site")}


def examnet(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "monitor", *args], capture_output=True,
                          text=True, cwd=REPO, timeout=60, check=False,
                          env={**os.environ, **(env or {})})


@pytest.fixture
def alertmanager(tmp_path: Path) -> Iterator[Alertmanager]:
    """Alertmanager timing out alerts not pushed for 12 s (5 min by default)."""
    with run_alertmanager(tmp_path, resolve_timeout="12s") as server:
        yield server


def test_an_outage_end_to_end_through_kills_and_restarts(
    tmp_path: Path, outage: Callable[[bool], None], alertmanager: Alertmanager,
    smtp_server: SmtpServer, webhook_receiver: RecordingServer,
) -> None:
    hook = webhook_receiver
    path = config(tmp_path, hook, alertmanager, smtp_server)
    monitor = MonitorProcess(path, tmp_path / "examnet.db", tmp_path / "examnet.log",
                             env={"EXAMNET_E2E_HOOK_SECRET": SECRET,
                                  "EXAMNET_E2E_SMTP_PASSWORD": smtp_server.password})
    monitor.start()
    try:
        wait_for(lambda: monitor.state("site", "s0") == "ok", 30, "a calm start")
        time.sleep(5)
        assert not hook.requests, bodies(hook, "/oncall")  # calm: nothing to say

        # 1. Viettel's gateway and its ten links go dark during the session
        outage(True)
        wait_for(lambda: bodies(hook, "/oncall"), 30, "the on-call notification")
        time.sleep(6)  # one group_interval: anything more would show now
        [first] = bodies(hook, "/oncall")
        assert first["reason"] == "new"
        assert sites_of(first) == SITES
        assert "endpoint_down" in {a["labels"]["kind"] for a in first["alerts"]}
        firing = wait_for(lambda: alertmanager.alerts(active=True) or None, 15, "alertmanager")
        assert {a["labels"].get("site") for a in firing} >= SITES
        assert all(a["labels"]["severity"] == "critical" for a in firing)
        assert all(a["labels"]["carrier"] == "viettel" for a in firing)
        mail = wait_for(lambda: smtp_server.received or None, 15, "the e-mail")
        assert mail[0].tls
        assert mail[0].login == smtp_server.username
        mail_text = mail[0].message.get_body(("plain",)).get_content()  # type: ignore[union-attr]
        assert all(f"THPT {i}" in mail_text for i in range(10))

        # 2. killed after it notified: a restart must not notify the same thing again
        assert monitor.stop(signal.SIGKILL) == -signal.SIGKILL
        monitor.start()
        time.sleep(8)
        assert [b["reason"] for b in bodies(hook, "/oncall")].count("new") == 1

        # 3. nobody acknowledged: escalation to the second receiver
        escalated = wait_for(lambda: bodies(hook, "/boss"), 30, "the escalation")
        assert escalated[0]["reason"] == "escalation"

        # 4. acknowledged from the command line: no more repeats, shown in status
        endpoint = next(i for i in Store(monitor.db_url).alerting.incident_rows(open_only=True)
                        if i.record.subject == "endpoint:vt-gw")
        acked = examnet("ack", str(endpoint.id), "--by", "Lan", "--note", "Viettel dispatched",
                        "--db", str(monitor.db_path))
        assert acked.returncode == 0, acked.stderr
        status = examnet("status", "--config", str(path), "--db", str(monitor.db_path),
                         env=monitor.env)
        assert "Lan" in status.stdout, status.stdout
        time.sleep(6)  # the monitor reads acks every 5 s
        before = len(bodies(hook, "/oncall"))
        time.sleep(REPEAT * 1.5)
        assert len(bodies(hook, "/oncall")) == before  # no repeat once acknowledged
        # 30 s without a notification, yet Alertmanager (resolve_timeout 12 s) still has
        # them all: examnet keeps it in sync every `refresh`
        active = {a["labels"].get("site") for a in alertmanager.alerts(active=True)}
        assert active >= SITES

        # 5. the receiver goes down; the outage ends; the monitor is killed while the
        # resolved notification waits; both come back: delivered once, after the rest
        hook.stop()
        outage(False)
        db = Store(monitor.db_url).alerting
        wait_for(lambda: [r for r in db.outbox(receiver="oncall", states=("pending",))
                          if json.loads(r.notification)["reason"] == "resolved"], 40,
                 "the resolved notification waiting in the outbox")
        assert monitor.stop(signal.SIGKILL) == -signal.SIGKILL
        hook.start()
        monitor.start()
        wait_for(lambda: any(b["reason"] == "resolved" for b in bodies(hook, "/oncall")), 30,
                 "the resolved notification after the restart")
        time.sleep(3)
        sent = bodies(hook, "/oncall")
        ids = [b["id"] for b in sent]
        assert len(ids) == len(set(ids))  # nothing delivered twice
        assert [b["reason"] for b in sent].count("resolved") == 1
        assert set.union(*(sites_of(b, "resolved") for b in sent)) == SITES  # each told
        assert sent[-1]["reason"] == "resolved"
        assert not sites_of(sent[-1])
        assert {r.state for r in db.outbox(receiver="oncall")} == {"delivered"}
        # and /metrics says so: attempts by result, the outbox by state
        delivered = monitor.sample("examnet_notification_attempts_total", receiver="oncall",
                                   result="delivered")
        assert delivered is not None
        assert delivered >= 1
        wait_for(lambda: monitor.sample("examnet_outbox_notifications", receiver="oncall",
                                        state="delivered") == len(ids), 15, "outbox metrics")
        try:
            wait_for(lambda: not alertmanager.alerts(active=True), 30, "alertmanager resolved")
        except AssertionError:
            left = [(a["labels"], a["endsAt"]) for a in alertmanager.alerts(active=True)]
            raise AssertionError(f"still active in alertmanager: {left}") from None
    finally:
        code = monitor.stop()
        log = monitor.log()
    assert code == 0, log[-3000:]
    assert SECRET not in log
    assert smtp_server.password not in log
