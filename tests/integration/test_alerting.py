"""Alerting through its real parts, on a fake clock (issue 5's acceptance).

The evaluator, the pipeline, the SQLite store, the alert engine, the outbox
and its worker, and real HTTP receivers on 127.0.0.1 (a webhook that checks
the HMAC, a fake Telegram Bot API): only the probes are replaced by the
rounds they would report, and time is a fake clock, so "two minutes of
receiver outage" or "ten minutes until the repeat" take a second.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import sqlite3
import time
import urllib.request
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from monitor import api
from monitor.alerting import Alerting
from monitor.config import load_inventory
from monitor.evaluation import Evaluator, RoundOutcome
from monitor.evaluation.figures import RoundFigures
from monitor.journal import Journal
from monitor.metrics import Metrics
from monitor.model.clock import FakeClock
from monitor.model.inventory import Inventory, Target
from monitor.operations import SilenceRequest, acknowledge, add_silence, expire_silence
from monitor.pipeline import Pipeline, TargetBoard
from monitor.selfwatch import Health
from monitor.storage import Store
from monitor.web import Access, WebServer, web_app
from tests.fixtures.inventories import province, shared_site_silence
from tests.fixtures.monitor import calendar_around, free_port
from tests.fixtures.receivers import FakeTelegram, RecordingServer

SECRET = "hook-secret-for-the-test-3f9a"  # noqa: S105 - the test's own
TOKEN = FakeTelegram.token
STEP = 10.0  # seconds between two rounds of every target
SITES = [f"s{i}" for i in range(10)]
DOWN = {"endpoint:vt-gw": None, **{f"link:s{i}/vt": None for i in range(10)}}


def answered() -> RoundOutcome:
    return RoundOutcome(
        RoundFigures(
            sent=3,
            received=3,
            loss=0.0,
            rtt_min=0.002,
            rtt_avg=0.002,
            rtt_median=0.002,
            rtt_max=0.002,
            jitter=0.0001,
        )
    )


LOST = RoundOutcome(RoundFigures(sent=3, received=0, loss=1.0), loss_reason="timeout")


def config_text(
    hook: RecordingServer,
    telegram: FakeTelegram,
    *,
    start: datetime,
    session_in: timedelta = timedelta(hours=2),
    extra: str = "",
) -> str:
    text = province()
    head, _, rest = text.partition("[calendar]")
    rest = rest[rest.index("[probe]") :]
    calendar = calendar_around(start, session_in, timedelta(hours=2))
    return (
        head
        + calendar
        + rest
        + f'''
[alerting]
language = "en"
group_wait = "5s"
group_interval = "30s"
repeat_interval = "10m"

[[notifiers]]
id = "oncall"
kind = "webhook"
url = "{hook.url}/oncall"
secret = "${{EXAMNET_TEST_HOOK_SECRET}}"

[[notifiers]]
id = "boss"
kind = "webhook"
url = "{hook.url}/boss"

[[notifiers]]
id = "viettel-noc"
kind = "telegram"
token = "${{EXAMNET_TEST_TG_TOKEN}}"
chat_id = "-1001"
api_url = "{telegram.url}"
language = "vi"

[[routes]]
matchers = ['carrier="viettel"']
receivers = ["viettel-noc"]
continue = true

[[routes]]
receivers = ["oncall"]
escalate_to = "boss"
escalate_after = "3m"

{shared_site_silence(start)}{extra}
'''
    )


class Desk:
    """examnet's judging and alerting, wired as `examnet run` wires them, minus probes."""

    def __init__(self, inventory: Inventory, db: Path, clock: FakeClock) -> None:
        self.inventory = inventory
        self.clock = clock
        self.store = Store(
            f"sqlite:///{db}",
            flush_interval=0.02,
            sqlite_busy_timeout=0.1,
            retry_initial=0.05,
            retry_max=0.2,
        )
        self.store.upgrade()
        targets = [*inventory.targets(), *inventory.control_targets()]
        self.store.register_targets(targets)
        self.store.start()
        self.targets: dict[str, Target] = {t.key: t for t in targets}
        self.rounds = 0
        self.evaluator = Evaluator(
            inventory, self.store.latest_states(), self.store.open_incidents()
        )
        self.alerting = Alerting(inventory, self.store, self.evaluator, clock, health=self.health)
        self.alerting.restore()
        metrics = Metrics()
        board = TargetBoard(inventory, self.evaluator)
        self.journal = Journal(
            inventory,
            self.store,
            metrics,
            on_incident=[self.alerting.incident],
            on_change=[board.follow],
        )
        self.pipeline = Pipeline(self.store, metrics, self.evaluator, self.journal, board)

    def close(self) -> None:
        self.store.close()

    def health(self) -> Health:
        s = self.store.stats
        return Health(
            s.written_total, s.write_errors_total, s.last_error, self.rounds, 0, None, STEP
        )

    def round(self, lost: dict[str, object] | None = None) -> None:
        """Every target answers but those in `lost`; then STEP seconds pass."""
        self.rounds += len(self.targets)
        for key, target in self.targets.items():
            outcome = LOST if key in (lost or {}) else answered()
            self.journal.record(self.evaluator.observe(target, outcome, self.clock.now()))
        self.pipeline.on_calendar(self.clock.now())
        self.clock.advance(STEP)

    def pump(self) -> None:
        """The notifications due now: into the outbox, stored, then sent (and awaited)."""
        self.alerting.check_self()
        self.alerting.reload()
        before = len(self.store.alerting.outbox())
        written = self.alerting.flush()
        deadline = time.monotonic() + 10
        while len(self.store.alerting.outbox()) < before + written:
            assert time.monotonic() < deadline, "notifications not written to the outbox"
            time.sleep(0.02)
        asyncio.run(self._send())

    async def _send(self) -> None:
        await self.alerting.worker.step()
        await self.alerting.worker.idle()

    def run(self, seconds: float, lost: dict[str, object] | None = None) -> None:
        """Rounds for `seconds`, pumping the notifications after each."""
        for _ in range(round(seconds / STEP)):
            self.round(lost)
            self.pump()


@pytest.fixture
def telegram(telegram_api: FakeTelegram) -> FakeTelegram:
    return telegram_api  # tests.fixtures.receivers, under a shorter name


@pytest.fixture
def hook(webhook_receiver: RecordingServer) -> RecordingServer:
    return webhook_receiver


def make_desk(
    tmp_path: Path,
    hook: RecordingServer,
    telegram: FakeTelegram,
    start: datetime | None = None,
    **kwargs: Any,
) -> Desk:
    start = start or datetime.now(UTC).replace(microsecond=0)
    path = tmp_path / "sites.toml"
    path.write_text(config_text(hook, telegram, start=start, **kwargs), encoding="utf-8")
    env = {"EXAMNET_TEST_HOOK_SECRET": SECRET, "EXAMNET_TEST_TG_TOKEN": TOKEN}
    inventory = load_inventory(path, env)
    return Desk(inventory, tmp_path / "examnet.db", FakeClock(start))


def posts(server: RecordingServer, path: str) -> list[dict[str, Any]]:
    """The JSON bodies posted to `path`, each after checking its signature."""
    found = []
    for r in server.requests:
        if r.path != path:
            continue
        if path == "/oncall":
            expected = "sha256=" + hmac.new(SECRET.encode(), r.body, hashlib.sha256).hexdigest()
            assert r.headers["X-Examnet-Signature"] == expected
        found.append(json.loads(r.body))
    return found


def sites_in(body: dict[str, Any], status: str = "firing") -> set[str]:
    return {
        a["labels"]["site"]
        for a in body["alerts"]
        if a["status"] == status and a["labels"].get("site")
    }


def telegram_texts(server: FakeTelegram) -> list[str]:
    return [str(r.json()["text"]) for r in server.requests if r.path.endswith("/sendMessage")]


def test_an_endpoint_down_with_ten_sites_is_one_notification_then_a_repeat_then_one_resolved(
    tmp_path: Path,
    hook: RecordingServer,
    telegram: FakeTelegram,
) -> None:
    desk = make_desk(tmp_path, hook, telegram)
    try:
        desk.run(30)
        assert not hook.requests
        desk.run(90, DOWN)  # K rounds, the parent's verdict, group_wait: all within this
        [first] = posts(hook, "/oncall")
        assert first["status"] == "firing"
        assert first["reason"] == "new"
        assert sites_in(first) == set(SITES)  # one notification naming the ten sites
        kinds = {a["labels"]["kind"] for a in first["alerts"]}
        assert "endpoint_down" in kinds
        [noc] = telegram_texts(telegram)  # Viettel's NOC: its own outage, in Vietnamese
        assert all(f"THPT {i}" in noc for i in range(10))
        desk.run(8 * 60, DOWN)  # still down, nothing new: no update, no repeat yet
        assert len(posts(hook, "/oncall")) == 1
        desk.run(3 * 60, DOWN)  # past repeat_interval (10 min)
        bodies = posts(hook, "/oncall")
        assert [b["reason"] for b in bodies] == ["new", "repeat"]
        assert sites_in(bodies[1]) == set(SITES)
        desk.run(90)  # repaired
        bodies = posts(hook, "/oncall")
        assert [b["reason"] for b in bodies] == ["new", "repeat", "resolved"], [
            (
                b["reason"],
                [
                    (
                        a["labels"]["kind"],
                        a["labels"]["subject"],
                        a["status"],
                        a["starts_at"],
                        a["ends_at"],
                    )
                    for a in b["alerts"]
                ],
            )
            for b in bodies[2:]
        ]
        assert sites_in(bodies[-1], "resolved") == set(SITES)
        assert not sites_in(bodies[-1])
        desk.run(15 * 60)  # and nothing after
        assert len(posts(hook, "/oncall")) == 3
        assert len(telegram_texts(telegram)) == 3
        assert not posts(hook, "/boss")  # before the exam session: no escalation
        rows = desk.store.alerting.outbox()
        assert {r.state for r in rows} == {"delivered"}
        assert TOKEN not in json.dumps([r.last_error for r in rows])
    finally:
        desk.close()


def test_a_receiver_down_for_two_minutes_gets_every_notification_once_in_order(
    tmp_path: Path,
    hook: RecordingServer,
    telegram: FakeTelegram,
) -> None:
    desk = make_desk(tmp_path, hook, telegram)
    try:
        desk.run(30)
        hook.stop()  # the on-call webhook is down from here
        desk.run(60, {"link:s0/vt": None})  # s0 loses Viettel
        desk.run(30, {"link:s0/vt": None, "link:s1/vnpt": None})  # s1 loses VNPT
        desk.run(30, {"link:s1/vnpt": None})  # s0 repaired
        assert not hook.requests
        pending = desk.store.alerting.outbox(receiver="oncall", states=("pending",))
        assert len(pending) >= 3
        assert max(r.attempts for r in pending) >= 2  # kept trying
        hook.start()
        desk.run(5 * 60)  # up again; everything repaired meanwhile
        bodies = posts(hook, "/oncall")
        ids = [b["id"] for b in bodies]
        assert len(ids) == len(set(ids))  # once each
        rows = desk.store.alerting.outbox(receiver="oncall")
        assert {r.state for r in rows} == {"delivered"}
        assert sorted(ids) == sorted(r.id for r in rows)  # none lost
        by_group: dict[str, list[str]] = {}
        for b in bodies:
            by_group.setdefault(b["group_key"], []).append(b["created_at"])
        assert all(times == sorted(times) for times in by_group.values())  # in order
        s0 = [b for b in bodies if "s0" in sites_in(b) | sites_in(b, "resolved")]
        assert [b["status"] for b in s0][-1] == "resolved"
        assert len(telegram_texts(telegram)) >= 2  # the other receiver was never held up
    finally:
        desk.close()


def test_silences_hold_notifications_not_incidents_and_never_hide_a_resolution(
    tmp_path: Path,
    hook: RecordingServer,
    telegram: FakeTelegram,
) -> None:
    desk = make_desk(tmp_path, hook, telegram)
    now = desk.clock.now()
    try:
        desk.run(30)
        quiet = add_silence(
            desk.store.alerting,
            SilenceRequest(
                ('site="s0"',),
                "noc-on-duty",
                "planned Viettel work at s0",
                duration=timedelta(hours=1),
            ),
            now,
        )
        desk.run(60, {"link:s0/vt": None})
        assert desk.store.incidents(site="s0", open_only=True)  # recorded as incidents
        assert not hook.requests
        assert not telegram.requests  # but nobody notified
        expire_silence(desk.store.alerting, quiet.record.id, "noc-on-duty", desk.clock.now())
        desk.run(20, {"link:s0/vt": None})  # still failing once the silence is gone
        fired = posts(hook, "/oncall")
        assert len(fired) == 1, [
            (
                b["reason"],
                [(a["labels"]["kind"], a["labels"]["subject"], a["status"]) for a in b["alerts"]],
            )
            for b in fired
        ]
        assert sites_in(fired[0]) == {"s0"}

        # fired, then silenced, then resolved under the silence: the resolution still goes
        # to those who saw it fire
        add_silence(
            desk.store.alerting,
            SilenceRequest(('site="s0"',), "noc-on-duty", "we know", duration=timedelta(hours=1)),
            desk.clock.now(),
        )
        desk.run(60)
        bodies = posts(hook, "/oncall")
        assert [b["status"] for b in bodies] == ["firing", "resolved"]
        assert sites_in(bodies[1], "resolved") == {"s0"}
        listed = [(s.created_by, s.comment) for s in desk.store.alerting.silences()]
        assert ("noc-on-duty", "planned Viettel work at s0") in listed  # audited: who, why
        assert ("noc-on-duty", "we know") in listed
    finally:
        desk.close()


def test_a_silence_made_through_the_http_api_needs_the_token_and_holds_notifications(
    tmp_path: Path,
    hook: RecordingServer,
    telegram: FakeTelegram,
) -> None:
    desk = make_desk(tmp_path, hook, telegram)
    port = free_port()
    token = "api-token-for-the-test-0123456789abcdef"  # noqa: S105 - the test's own
    routes = api.router(desk.store.alerting, desk.clock, desk.alerting.reload)
    server = WebServer(("127.0.0.1", port), web_app(api=routes, access=Access(token)))
    server.start()

    def post(
        path: str, body: object, token: str | None, method: str = "POST", at: int = port
    ) -> tuple[int, Any]:
        request = urllib.request.Request(
            f"http://127.0.0.1:{at}{path}",
            data=json.dumps(body).encode(),
            method=method,
            headers={"Authorization": f"Bearer {token}"} if token else {},
        )
        try:
            with urllib.request.urlopen(request, timeout=5) as answer:  # noqa: S310 - loopback
                return answer.status, json.loads(answer.read())
        except urllib.error.HTTPError as exc:
            return exc.code, json.loads(exc.read())

    try:
        silence = {
            "matchers": ['carrier="viettel"'],
            "duration": "1h",
            "created_by": "an",
            "comment": "Viettel maintenance window",
        }
        assert post("/api/silences", silence, None)[0] == 401
        assert post("/api/silences", silence, "wrong")[0] == 401
        status, body = post("/api/silences", {**silence, "matchers": ["carrier~viettel"]},
                            token)
        assert status == 400
        assert "matcher" in body["error"]
        status, made = post("/api/silences", silence, token)
        assert status == 201
        assert made["state"] == "active"
        assert made["created_by"] == "an"
        desk.run(30)
        desk.run(60, {"link:s3/vt": None})
        assert desk.store.incidents(site="s3", open_only=True)
        assert not telegram.requests
        assert not hook.requests
        listing = urllib.request.Request(
            f"http://127.0.0.1:{port}/api/silences", headers={"Authorization": f"Bearer {token}"}
        )  # every read of the API needs a token too (docs/api.md)
        with urllib.request.urlopen(listing, timeout=5) as a:  # noqa: S310 - loopback
            assert made["id"] in [s["id"] for s in json.loads(a.read())]

        # ended early through the API, while s3 still fails: now it is notified
        status, ended = post(f"/api/silences/{made['id']}", {"by": "an"}, token, "DELETE")
        assert status == 200
        assert (ended["state"], ended["expired_by"]) == ("expired", "an")
        desk.run(20, {"link:s3/vt": None})
        assert sites_in(posts(hook, "/oncall")[0]) == {"s3"}

        # acknowledged through the API, by the alert's fingerprint
        incidents = urllib.request.Request(
            f"http://127.0.0.1:{port}/api/incidents?state=open",
            headers={"Authorization": f"Bearer {token}"},
        )
        with urllib.request.urlopen(incidents, timeout=5) as a:  # noqa: S310 - loopback
            found = json.loads(a.read())["incidents"]
            link = next(i for i in found if i["subject"] == "link:s3/vt")
        status, acked = post(
            "/api/acks", {"incident": link["fingerprint"], "by": "Lan", "note": "on it"}, token
        )
        assert status == 200
        assert (acked["id"], acked["acknowledged_by"]) == (link["id"], "Lan")

        # a monitor with no EXAMNET_API_TOKEN knows only the tokens of its database
        readonly = WebServer(("127.0.0.1", 0), web_app(api=routes))
        readonly.start()
        try:
            assert post("/api/silences", silence, token, at=readonly.address[1])[0] == 401
        finally:
            readonly.stop()
    finally:
        server.stop()
        desk.close()


def test_not_ready_for_a_session_reaches_on_call_before_it_starts(
    tmp_path: Path,
    hook: RecordingServer,
    telegram: FakeTelegram,
) -> None:
    # the session starts in 62 minutes; the first readiness snapshot is at 60
    desk = make_desk(tmp_path, hook, telegram, session_in=timedelta(minutes=62))
    session_start = desk.clock.now() + timedelta(minutes=62)
    both = {"link:s4/vt": None, "link:s4/vnpt": None}  # s4 is cut off
    try:
        desk.run(30)
        desk.run(4 * 60, both)
        readiness = [
            b
            for b in posts(hook, "/oncall")
            if any(a["labels"]["kind"] == "not_ready" for a in b["alerts"])
        ]
        assert readiness, [b["alerts"][0]["labels"] for b in posts(hook, "/oncall")]
        delivered_at = [r for r in hook.requests if json.loads(r.body)["id"] == readiness[0]["id"]]
        assert delivered_at
        assert datetime.fromisoformat(readiness[0]["created_at"]) < session_start
        alert = next(a for a in readiness[0]["alerts"] if a["labels"]["kind"] == "not_ready")
        assert alert["labels"]["session"] == "Ngữ văn" or "Ngữ văn" in alert["summary"]["en"]
    finally:
        desk.close()


def test_an_ack_stops_repeats_and_escalation_which_otherwise_fires_in_a_session(
    tmp_path: Path,
    hook: RecordingServer,
    telegram: FakeTelegram,
) -> None:
    # the exam session is running: a site cut off is critical
    desk = make_desk(tmp_path, hook, telegram, session_in=timedelta(minutes=-30))
    cut = {"link:s5/vt": None, "link:s5/vnpt": None, "link:s6/vt": None, "link:s6/vnpt": None}
    try:
        desk.run(30)
        desk.run(60, cut)
        first = posts(hook, "/oncall")
        assert len({b["group_key"] for b in first}) == 2, [  # a group per site
            (
                b["reason"],
                b["created_at"],
                [(a["labels"]["kind"], a["labels"]["subject"], a["status"]) for a in b["alerts"]],
            )
            for b in first
        ]
        assert set.union(*(sites_in(b) for b in first)) == {"s5", "s6"}
        assert {a["labels"]["severity"] for b in first for a in b["alerts"]} == {"critical"}
        # s6 is acknowledged at once; s5 is not: only s5 escalates after 3 minutes
        s6 = next(
            i
            for i in desk.store.alerting.incident_rows(open_only=True)
            if i.record.site == "s6" and i.record.kind == "isolated"
        )
        acknowledge(desk.store.alerting, str(s6.id), "Lan", "on my way", desk.clock.now())
        desk.run(4 * 60, cut)
        [escalated] = posts(hook, "/boss")
        assert escalated["reason"] == "escalation"
        assert sites_in(escalated) == {"s5"}
        s5 = next(
            i
            for i in desk.store.alerting.incident_rows(open_only=True)
            if i.record.site == "s5" and i.record.kind == "isolated"
        )
        acknowledge(desk.store.alerting, str(s5.id), "Minh", "calling Viettel", desk.clock.now())
        count = len(posts(hook, "/oncall"))
        desk.run(25 * 60, cut)  # two repeat intervals: both acknowledged, no repeat
        assert len(posts(hook, "/oncall")) == count
        assert len(posts(hook, "/boss")) == 1
        stored = desk.store.alerting.incident(s6.id)
        assert stored is not None
        assert (stored.acknowledged_by, stored.ack_note) == ("Lan", "on my way")
    finally:
        desk.close()


def test_with_the_database_down_alerts_still_go_out_and_are_recorded_once_it_is_back(
    tmp_path: Path,
    hook: RecordingServer,
    telegram: FakeTelegram,
) -> None:
    desk = make_desk(tmp_path, hook, telegram)
    cut = {"link:s2/vt": None, "link:s2/vnpt": None}
    try:
        desk.run(30)
        locker = sqlite3.connect(tmp_path / "examnet.db", timeout=5)
        locker.execute("BEGIN EXCLUSIVE")  # nobody else may write now
        try:
            for _ in range(12):  # two minutes: s2 cut off, nothing can be stored
                desk.round(cut)
                time.sleep(0.3)  # the writer's real retries fail meanwhile
                desk.alerting.check_self()
                desk.alerting.flush()
                asyncio.run(desk._send())
            sent = posts(hook, "/oncall")
            kinds = {a["labels"]["kind"] for b in sent for a in b["alerts"]}
            assert {"isolated", "database_down"} <= kinds, kinds  # paged all the same
        finally:
            locker.rollback()
            locker.close()
        desk.run(60, cut)  # the database is back
        ids = [b["id"] for b in posts(hook, "/oncall")]
        assert len(ids) == len(set(ids))  # nothing sent twice
        deadline = time.monotonic() + 10
        while not set(ids) <= {r.id for r in desk.store.alerting.outbox(receiver="oncall")}:
            assert time.monotonic() < deadline, "notifications sent from memory not recorded"
            time.sleep(0.05)
        desk.run(10, cut)  # a step to settle what was both spooled and sent from memory
        rows = {r.id: r for r in desk.store.alerting.outbox(receiver="oncall")}
        every = [b["id"] for b in posts(hook, "/oncall")]
        assert every[: len(ids)] == ids  # what went before was not sent again
        assert len(every) == len(set(every))
        assert {r.state for r in rows.values()} == {"delivered"}
        resolved = [
            a
            for b in posts(hook, "/oncall")
            for a in b["alerts"]
            if a["labels"]["kind"] == "database_down" and a["status"] == "resolved"
        ]
        assert resolved  # and examnet said so when the database came back
        assert [i for i in desk.store.incidents(site="s2") if i.kind == "isolated"]  # stored
    finally:
        desk.close()


# --------------------------------------------------------------------------
# a resolution quotes the incident at its worst (issue 9.5)

THREE_CARRIERS = {"link:s0/vt": None, "link:s0/vnpt": None}


def with_mobifone_at_s0(text: str) -> str:
    """s0 with a third carrier, and all three required: each one lost shows in the words."""
    s0 = text.index('id = "s0"')
    s1 = text.index("[[sites]]", s0)
    site = (
        text[s0:s1].replace("min_carriers = 2", "min_carriers = 3")
        + """[[sites.links]]
id = "mobi"
carrier = "mobifone"
kind = "bts"
address = "127.1.0.3"

"""
    )
    carrier = '[[carriers]]\nid = "mobifone"\nname = "MobiFone"\n'
    text = text[:s0] + site + text[s1:]
    return text.replace("[[endpoints]]", carrier + "[[endpoints]]", 1)


def make_three_carrier_desk(
    tmp_path: Path, hook: RecordingServer, telegram: FakeTelegram, clock: FakeClock | None = None
) -> Desk:
    start = datetime.now(UTC).replace(microsecond=0)
    path = tmp_path / "sites.toml"
    path.write_text(with_mobifone_at_s0(config_text(hook, telegram, start=start)), encoding="utf-8")
    env = {"EXAMNET_TEST_HOOK_SECRET": SECRET, "EXAMNET_TEST_TG_TOKEN": TOKEN}
    return Desk(load_inventory(path, env), tmp_path / "examnet.db", clock or FakeClock(start))


def resolved_words(hook: RecordingServer, kind: str) -> str:
    [words] = [
        a["summary"]["en"]
        for b in posts(hook, "/oncall")
        for a in b["alerts"]
        if a["labels"]["kind"] == kind and a["status"] == "resolved"
    ]
    return str(words)


def test_a_resolved_notice_quotes_the_incident_at_its_worst_not_as_it_closed(
    tmp_path: Path,
    hook: RecordingServer,
    telegram: FakeTelegram,
) -> None:
    desk = make_three_carrier_desk(tmp_path, hook, telegram)
    try:
        desk.run(30)
        desk.run(60, {"link:s0/vt": None})  # Viettel lost: 2/3 left
        desk.run(60, THREE_CARRIERS)  # and VNPT: 1/3 left, the worst
        desk.run(60, {"link:s0/vnpt": None})  # Viettel back: 2/3 left again
        desk.run(60)  # all back: the incident closes with nothing lost
        words = resolved_words(hook, "lost_redundancy")
        assert words.startswith("THPT 0 (Cao Lộc) lost Viettel, VNPT — 1/3 carriers left"), words
        assert " — lasted 3 min" in words
        firing = [
            a["summary"]["en"]
            for b in posts(hook, "/oncall")
            for a in b["alerts"]
            if a["labels"]["kind"] == "lost_redundancy" and a["status"] == "firing"
        ]
        assert firing[0].startswith("THPT 0 (Cao Lộc) lost Viettel — 2/3 carriers left")
    finally:
        desk.close()


def test_a_resolved_notice_after_a_restart_still_quotes_the_worst_that_was_told(
    tmp_path: Path,
    hook: RecordingServer,
    telegram: FakeTelegram,
) -> None:
    desk = make_three_carrier_desk(tmp_path, hook, telegram)
    clock = desk.clock
    try:
        desk.run(30)
        desk.run(60, THREE_CARRIERS)  # Viettel and VNPT lost at once: told "1/3 left"
        told = [b for b in posts(hook, "/oncall") if b["status"] == "firing"]
        assert told
    finally:
        desk.close()
    desk = make_three_carrier_desk(tmp_path, hook, telegram, clock)  # examnet restarted
    try:
        desk.run(60, {"link:s0/vnpt": None})  # Viettel back after the restart
        desk.run(60)
        words = resolved_words(hook, "lost_redundancy")
        assert words.startswith("THPT 0 (Cao Lộc) lost Viettel, VNPT — 1/3 carriers left"), words
    finally:
        desk.close()


# --------------------------------------------------------------------------
# silences name labels alerts carry, and say what they hold now (issue 9.7)

API_TOKEN = "api-token-for-the-test-0123456789abcdef"  # noqa: S105 - the test's own


def api_call(
    port: int, path: str, body: object | None = None, method: str = "POST"
) -> tuple[int, Any]:
    request = urllib.request.Request(
        f"http://127.0.0.1:{port}{path}",
        method=method,
        data=None if body is None else json.dumps(body).encode(),
        headers={"Authorization": f"Bearer {API_TOKEN}"},
    )
    try:
        with urllib.request.urlopen(request, timeout=5) as answer:  # noqa: S310 - loopback
            return answer.status, json.loads(answer.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read())


def test_the_api_refuses_a_silence_on_an_unknown_label_and_counts_what_one_matches(
    tmp_path: Path,
    hook: RecordingServer,
    telegram: FakeTelegram,
) -> None:
    desk = make_desk(tmp_path, hook, telegram)
    routes = api.router(desk.store.alerting, desk.clock, desk.alerting.reload)
    server = WebServer(("127.0.0.1", 0), web_app(api=routes, access=Access(API_TOKEN)))
    server.start()
    port = server.address[1]
    try:
        desk.run(30)
        desk.run(60, {"link:s3/vt": None})  # s3 lost Viettel: its link, its redundancy
        silence = {
            "matchers": ['carier="viettel"'],
            "duration": "1h",
            "created_by": "an",
            "comment": "Viettel maintenance",
        }
        status, body = api_call(port, "/api/silences", silence)
        assert status == 400
        assert 'alerts carry no label "carier"; did you mean "carrier"?' in body["error"]
        status, made = api_call(port, "/api/silences", {**silence, "matchers": ['site="s3"']})
        assert status == 201
        assert made["matching_alerts"] == 2
        status, made = api_call(
            port, "/api/silences", {**silence, "matchers": ['carrier="viettel"', 'site="s3"']}
        )
        assert (status, made["matching_alerts"]) == (201, 2)  # the site's lost carrier, as told
        status, made = api_call(port, "/api/silences", {**silence, "matchers": ['site="s33"']})
        assert (status, made["matching_alerts"]) == (201, 0)
        # acknowledged twice: both kept, the latest shown with the count
        link = next(
            i
            for i in desk.store.alerting.incident_rows(open_only=True)
            if i.record.subject == "link:s3/vt"
        )
        api_call(port, "/api/acks", {"incident": link.id, "by": "Lan", "note": "on it"})
        desk.clock.advance(60)
        status, acked = api_call(
            port, "/api/acks", {"incident": link.id, "by": "Minh", "note": "Viettel dispatched"}
        )
        assert status == 200
        assert (acked["acknowledged_by"], acked["ack_note"], acked["ack_count"]) == (
            "Minh",
            "Viettel dispatched",
            2,
        )
        assert [a["by"] for a in acked["acks"]] == ["Lan", "Minh"]
    finally:
        server.stop()
        desk.close()


def test_a_wall_clock_step_neither_expires_nor_hurries_a_pending_notification(
    tmp_path: Path,
    hook: RecordingServer,
    telegram: FakeTelegram,
) -> None:
    desk = make_desk(tmp_path, hook, telegram)
    try:
        desk.run(30)
        hook.stop()  # the on-call webhook is down: the notification waits in the outbox
        desk.run(60, {"link:s0/vt": None})
        pending = desk.store.alerting.outbox(receiver="oncall", states=("pending",))
        assert pending
        tried = {r.id: r.attempts for r in pending}
        desk.clock.step(7 * 24 * 3600)  # the wall clock jumps a week ahead (issue 10.4)
        desk.pump()
        after = {r.id: r for r in desk.store.alerting.outbox(receiver="oncall")}
        assert all(after[i].state == "pending" for i in tried)  # not given up on
        assert all(after[i].attempts == tried[i] for i in tried)  # not retried early
    finally:
        desk.close()
