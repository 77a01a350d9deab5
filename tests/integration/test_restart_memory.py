"""A restart reads back each target's newest rounds, on SQLite and on a real PostgreSQL.

The evaluator's quality windows, RTT baselines and K-round counters live in
memory; without their rounds a restart forgets that 2 of the last 5 rounds
were slow, and closes an incident the uninterrupted run keeps open.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from monitor.model.inventory import Target
from monitor.model.records import RoundRecord
from monitor.model.vocabulary import TargetKind
from monitor.storage import Store

T0 = datetime(2027, 6, 3, 0, 30, tzinfo=UTC)
LINKS = [
    Target("link:a/vt", TargetKind.LINK, "10.91.1.2", "viettel", site="a", link="vt"),
    Target("link:a/vnpt", TargetKind.LINK, "10.92.1.2", "vnpt", site="a", link="vnpt"),
]


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Store]:
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'examnet.db'}"
    else:
        url = str(request.getfixturevalue("postgres_url"))
    s = Store(url, flush_interval=0.02)
    s.upgrade()
    s.register_targets(LINKS)
    s.start()
    try:
        yield s
    finally:
        s.close()


def test_it_reads_back_the_newest_rounds_of_every_target_oldest_first(store: Store) -> None:
    for i in range(12):
        for link, rtt in ((LINKS[0], 10.0 + i), (LINKS[1], 100.0 + i)):
            at = T0 + timedelta(seconds=10 * i)
            store.add_round(RoundRecord(link.key, at, 200.0, 3, 3, 0.0, rtt_median_ms=rtt))
    deadline = time.monotonic() + 10
    while len(store.rounds()) < 24:
        assert time.monotonic() < deadline, "rounds not written"
        time.sleep(0.02)
    recent = store.recent_rounds(5)
    assert set(recent) == {"link:a/vt", "link:a/vnpt"}
    assert [r.rtt_median_ms for r in recent["link:a/vt"]] == [17.0, 18.0, 19.0, 20.0, 21.0]
    assert [r.rtt_median_ms for r in recent["link:a/vnpt"]] == [107.0, 108.0, 109.0, 110.0, 111.0]
    assert [r.started_at for r in recent["link:a/vt"]] == sorted(
        r.started_at for r in recent["link:a/vt"])
    assert store.recent_rounds(0) == {}
