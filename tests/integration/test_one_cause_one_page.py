"""One cause, one page, true words: issue 9's defects 2 and 3 through the lab's real hosts.

A carrier's core router is cut (`examnet lab impair vt-core down`): its
links go silent, and so do the SNMP agents polled over them (thpt-a's router
at its Viettel address, its UPS on the LAN behind the Viettel fibre, the
BTS controller at the core's own address). examnet must page once, for the
core, with the sites it cuts, and not once more per device. Then VNPT's
gateway is cut while thcs-c's Viettel mobile BTS is outside its window: the
site is isolated from VNPT, and the page must not name Viettel.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.fixtures.lab import LabHandle
from tests.fixtures.monitor import MonitorProcess, config_with, wait_for
from tests.fixtures.receivers import RecordingServer

pytestmark = pytest.mark.lab

DEVICES_BEHIND_VT_CORE = {
    "device:thpt-a/router",  # at thpt-a's vt-fibre address
    "device:thpt-a/ups",  # via = "vt-fibre"
    "device:vt-core/bts-controller",  # at the core's own address
}


def config(directory: Path, hook: RecordingServer) -> Path:
    """The lab's file (its exam is in 2027: thcs-c's BTS is not part of it yet), with a
    webhook for every alert."""
    path = config_with(directory)
    path.write_text(
        path.read_text(encoding="utf-8")
        + f'''
[alerting]
language = "en"
group_wait = "3s"
group_interval = "5m"

[[notifiers]]
id = "noc"
kind = "webhook"
url = "{hook.url}/noc"

[[routes]]
receivers = ["noc"]
''',
        encoding="utf-8",
    )
    return path


@pytest.fixture
def monitor(
    clean_lab: LabHandle, tmp_path: Path, webhook_receiver: RecordingServer
) -> Iterator[MonitorProcess]:
    monitor = MonitorProcess(
        config(tmp_path, webhook_receiver), tmp_path / "examnet.db", tmp_path / "examnet.log"
    )
    monitor.start()
    try:
        yield monitor
    finally:
        monitor.stop()


def pages(hook: RecordingServer) -> list[dict[str, Any]]:
    return [json.loads(r.body) for r in hook.requests if r.path == "/noc"]


def firing(hook: RecordingServer) -> list[dict[str, Any]]:
    return [a for page in pages(hook) for a in page["alerts"] if a["status"] == "firing"]


def all_devices_answer(monitor: MonitorProcess) -> bool:
    return all(monitor.state("device", d) == "up" for d in DEVICES_BEHIND_VT_CORE)


def test_a_cut_core_router_is_one_page_and_the_devices_behind_it_are_part_of_it(
    monitor: MonitorProcess, clean_lab: LabHandle, webhook_receiver: RecordingServer
) -> None:
    wait_for(lambda: all_devices_answer(monitor), 60, "every device behind vt-core answering")
    wait_for(lambda: monitor.state("site", "thpt-a") == "ok", 30, "thpt-a ok")
    before = len(pages(webhook_receiver))

    clean_lab.command("impair", "vt-core", "down")
    wait_for(
        lambda: all(monitor.state("device", d) == "no_answer" for d in DEVICES_BEHIND_VT_CORE),
        60,
        "the devices to fall silent",
    )
    wait_for(lambda: len(pages(webhook_receiver)) > before, 30, "the page")
    wait_for(lambda: monitor.state("site", "thcs-b") == "lost_redundancy", 30, "thcs-b")

    new = pages(webhook_receiver)[before:]
    alerts = [a for page in new for a in page["alerts"] if a["status"] == "firing"]
    kinds = {a["labels"]["kind"] for a in alerts}
    assert "endpoint_down" in kinds
    assert "device_unreachable" not in kinds  # not paged on their own
    assert len({page["group_key"] for page in new}) == 1  # one cause: one group
    assert {a["labels"]["group"] for a in alerts} == {"target|endpoint:vt-core|endpoint_down"}
    opened = {(i.subject, i.kind) for i in monitor.incidents() if i.ended_at is None}
    assert not [s for s, k in opened if k == "device_unreachable"]
    for device in DEVICES_BEHIND_VT_CORE:
        [change] = [c for c in monitor.changes(device) if c.state == "no_answer"]
        assert "which is down" in change.reason, change.reason
        assert "wrong community" not in change.reason

    clean_lab.restore()
    wait_for(lambda: all_devices_answer(monitor), 60, "the devices to answer again")
    wait_for(lambda: monitor.state("site", "thpt-a") == "ok", 30, "thpt-a ok again")
    assert not [i for i in monitor.incidents() if i.kind == "device_unreachable"]


def test_a_link_outside_its_window_is_not_lost_nor_named(
    monitor: MonitorProcess, clean_lab: LabHandle, webhook_receiver: RecordingServer
) -> None:
    wait_for(lambda: monitor.state("site", "thcs-c") == "ok", 30, "thcs-c ok")
    clean_lab.command("impair", "vnpt-gw", "down")
    wait_for(lambda: monitor.state("site", "thcs-c") == "isolated", 30, "thcs-c isolated")
    wait_for(
        lambda: [a for a in firing(webhook_receiver) if a["labels"]["site"] == "thcs-c"],
        30,
        "thcs-c's page",
    )

    [site] = [
        a
        for a in firing(webhook_receiver)
        if a["labels"]["site"] == "thcs-c" and a["labels"]["kind"] == "isolated"
    ]
    assert site["labels"]["carrier"] == "vnpt"  # not "viettel,vnpt": the BTS is not there yet
    assert "Viettel" not in site["summary"]["en"]
    [incident] = [i for i in monitor.incidents() if i.subject == "thcs-c" and i.ended_at is None]
    assert "vt-bts" not in incident.reason
