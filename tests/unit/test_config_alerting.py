"""sites.toml alerting: [alerting], [[notifiers]], [[routes]], [[silences]], loaded and checked."""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from alerts.notifiers import SETTINGS, validate
from alerts.notifiers.alertmanager import AlertmanagerSettings
from alerts.notifiers.chat import ChatSettings
from alerts.notifiers.email import EmailSettings
from alerts.notifiers.telegram import TelegramSettings
from alerts.notifiers.webhook import WebhookSettings
from alerts.rules import labels_for
from monitor.config import ConfigError, load_inventory, summarize
from monitor.config.problems import duration_text
from monitor.model.alerting import (
    ALERT_LABELS,
    DEFAULT_ESCALATE_AFTER,
    DEFAULT_GROUP_INTERVAL,
    DEFAULT_OUTBOX_EXPIRE,
    DEFAULT_REPEAT_INTERVAL,
    AlertingSettings,
    NotifierConfig,
    Route,
    SilenceConfig,
    default_route,
    log_notifier,
)
from monitor.model.inventory import Inventory
from monitor.model.matchers import Matcher, matches_all, parse_matcher
from monitor.model.notifiers import LogSettings
from monitor.model.records import IncidentRecord
from monitor.model.rehearsal import Rehearsal, rehearsed
from monitor.model.secrets import Secret
from tests.unit.test_config import (
    DATA,
    INVALID,
    REPO,
    SECRETS,
    SHIPPED,
    SHIPPED_SECRETS,
    problem_lines,
    run_check,
    write_config,
)

VALID = DATA / "valid-alerting.toml"
DOCS = REPO / "docs" / "sites-toml.md"
ZONE = ZoneInfo("Asia/Ho_Chi_Minh")
# what the valid file's ${NAME}s hold; none may ever be printed
NOTIFIER_SECRETS = {
    "EXAMNET_TEST_WEBHOOK_SECRET": "webhook-secret-3a9f",
    "EXAMNET_TEST_SMTP_PASSWORD": "smtp-password-c41d",
    "EXAMNET_TEST_TELEGRAM_TOKEN": "123456:telegram-token-77e0",
    "EXAMNET_TEST_CHAT_URL": "https://chat.example.org/hooks/chat-token-b62c",
}
TIMER_KEYS = ("group_wait", "group_interval", "repeat_interval", "escalate_after", "outbox_expire")
# what the shipped file's commented examples need once uncommented
EXAMPLE_SECRETS = {
    "EXAMNET_NOC_WEBHOOK_SECRET": "example-webhook-secret",
    "EXAMNET_SMTP_PASSWORD": "example-smtp-password",
    "EXAMNET_TELEGRAM_TOKEN": "123:example-token",
    "EXAMNET_CHAT_WEBHOOK_URL": "https://chat.example.org/hooks/example",
}


def valid() -> Inventory:
    return load_inventory(VALID, dict(NOTIFIER_SECRETS))


def at(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=ZONE)


def matchers(*texts: str) -> tuple[Matcher, ...]:
    return tuple(parse_matcher(text) for text in texts)


# --------------------------------------------------------------------------
# broken files: one exact message each (test_config.py runs them all)


def test_it_has_a_broken_file_for_each_alerting_mistake() -> None:
    names = {p.stem.removeprefix("invalid-") for p in INVALID}

    assert {
        "notifier-unknown-kind",
        "notifier-missing-setting",
        "notifier-bad-url",
        "notifier-unset-secret",
        "notifier-duplicate-id",
        "notifier-id-log",
        "notifier-unknown-key",
        "notifier-bad-email",
        "notifier-password-in-clear",
        "bad-language",
        "route-unknown-notifier",
        "route-receivers-empty",
        "route-receiver-twice",
        "route-bad-matcher",
        "route-bad-group-by",
        "route-unreachable",
        "group-interval-above-repeat",
        "escalate-after-without-to",
        "escalate-to-unknown",
        "silence-end-before-start",
        "silence-missing-by-comment",
        "silence-duplicate-id",
    } <= names
    assert "reserved-notifiers" not in names


def test_it_never_shows_a_url_in_its_problem() -> None:
    path = DATA / "invalid" / "invalid-notifier-bad-url.toml"

    lines = problem_lines(path, {"EXAMNET_TEST_PRIV": SECRETS["EXAMNET_TEST_PRIV"]})

    assert len(lines) == 3
    shown = "\n".join(lines)
    for hidden in ("tok-5c1f9e", "hooks.example.org/examnet", SECRETS["EXAMNET_TEST_PRIV"]):
        assert hidden not in shown


def test_it_never_shows_a_notifier_secret_in_a_problem(tmp_path: Path) -> None:
    path = write_config(
        tmp_path,
        top='[[notifiers]]\nid = "room"\nkind = "chat"\nurl = "${U}"\nflavour = "teams"\n'
        '[[routes]]\nreceivers = ["room"]\n',
    )

    with pytest.raises(ConfigError) as caught:
        load_inventory(path, {"U": "not-a-url-5e7a"})

    assert "not-a-url-5e7a" not in str(caught.value)
    assert [p.field for p in caught.value.problems] == ["url", "flavour"]


# --------------------------------------------------------------------------
# a valid file: what it becomes


def test_it_loads_every_kind_of_notifier_with_its_settings() -> None:
    inventory = valid()

    assert inventory.notifiers == (
        NotifierConfig("log", "log", LogSettings(), "en"),
        NotifierConfig(
            "noc-webhook",
            "webhook",
            WebhookSettings(
                url="https://noc.example.org/examnet/alerts",
                secret=Secret(NOTIFIER_SECRETS["EXAMNET_TEST_WEBHOOK_SECRET"]),
            ),
            "en",
        ),
        NotifierConfig(
            "viettel-noc",
            "alertmanager",
            AlertmanagerSettings(url="http://alertmanager.viettel.example.org:9093", timeout=5.0),
            "vi",
        ),
        NotifierConfig(
            "vnpt-noc",
            "email",
            EmailSettings(
                host="smtp.example.org",
                sender="examnet <examnet@example.org>",
                to=("noc@vnpt.example.org", "NOC trực ca <duty@vnpt.example.org>"),
                username="examnet",
                password=Secret(NOTIFIER_SECRETS["EXAMNET_TEST_SMTP_PASSWORD"]),
            ),
            "en",
        ),
        NotifierConfig(
            "duty-telegram",
            "telegram",
            TelegramSettings(
                token=Secret(NOTIFIER_SECRETS["EXAMNET_TEST_TELEGRAM_TOKEN"]),
                chat_id="-1001234567890",
                api_url="https://telegram-api.example.org",
            ),
            "en",
        ),
        NotifierConfig(
            "room-chat",
            "chat",
            ChatSettings(
                url=Secret(NOTIFIER_SECRETS["EXAMNET_TEST_CHAT_URL"]), flavour="mattermost"
            ),
            "en",
        ),
        NotifierConfig("audit", "log", LogSettings(), "vi"),
    )
    assert {n.kind for n in inventory.notifiers} == set(SETTINGS)
    assert inventory.warnings == ()


def test_it_makes_notifiers_their_kind_accepts() -> None:
    for notifier in valid().notifiers:
        assert validate(notifier.settings) == [], notifier.id


def test_it_reads_the_alerting_section_and_keeps_the_defaults_it_leaves_out() -> None:
    assert valid().alerting == AlertingSettings(
        language="en",
        group_wait=20.0,
        group_interval=DEFAULT_GROUP_INTERVAL,
        repeat_interval=7200.0,
        escalate_after=900.0,
        outbox_expire=DEFAULT_OUTBOX_EXPIRE,
    )


def test_it_keeps_routes_in_file_order_with_the_alerting_timers_resolved() -> None:
    inherited = {
        "group_wait": 20.0,
        "group_interval": DEFAULT_GROUP_INTERVAL,
        "repeat_interval": 7200.0,
        "escalate_after": 900.0,
    }

    assert valid().routes == (
        Route(
            receivers=("viettel-noc",),
            matchers=matchers('carrier=~"(.*,)?viettel(,.*)?"'),
            group_by=("group", "site"),
            continue_=True,
            **inherited,
        ),
        Route(
            receivers=("vnpt-noc",),
            matchers=matchers('carrier="vnpt"'),
            continue_=True,
            **inherited,
        ),
        Route(
            receivers=("noc-webhook", "room-chat", "audit"),
            matchers=matchers('severity="critical"', 'session!=""'),
            group_wait=10.0,
            group_interval=60.0,
            repeat_interval=900.0,
            escalate_to="duty-telegram",
            escalate_after=300.0,
        ),
        Route(
            receivers=("noc-webhook",),
            matchers=matchers('severity!~"info"'),
            group_by=(),
            **inherited,
        ),
        Route(receivers=("log",), **inherited),
    )


def test_its_routes_send_an_alert_where_the_file_says() -> None:
    routes = valid().routes
    site_alert = {"site": "thpt-viet-bac", "carrier": "vnpt,viettel", "severity": "critical"}
    in_session = {**site_alert, "session": "Ngữ văn"}

    assert [r.matches(site_alert) for r in routes] == [True, False, False, True, True]
    assert [r.matches(in_session) for r in routes] == [True, False, True, True, True]
    assert [r.matches({"carrier": "vnpt", "severity": "info"}) for r in routes] == [
        False,
        True,
        False,
        False,
        True,
    ]


def test_it_reads_silences_in_plan_time() -> None:
    assert valid().silences == (
        SilenceConfig(
            "viettel-maintenance",
            matchers('carrier="viettel"', 'site="thpt-viet-bac"'),
            at("2027-05-25T22:00:00"),
            at("2027-05-26T02:00:00"),
            by="Nguyễn Văn An",
            comment="fibre splice on the Việt Bắc ring, ticket VT-2027-0415",
        ),
        SilenceConfig(
            "vnpt-core-upgrade",
            matchers('carrier="vnpt"'),
            at("2027-05-27T22:00:00"),  # 15:00Z
            at("2027-05-28T00:00:00"),
            by="VNPT Lạng Sơn NOC",
            comment="core router software upgrade",
        ),
    )
    silence = valid().silences[0]
    assert silence.active(at("2027-05-25T22:00:00"))
    assert not silence.active(at("2027-05-26T02:00:00"))  # [start, end)


def test_it_never_shows_a_notifier_secret_in_the_inventory_or_its_summary() -> None:
    inventory = valid()

    shown = "\n".join([str(inventory), repr(inventory), summarize(inventory)])

    assert "<secret>" in shown
    for value in NOTIFIER_SECRETS.values():
        assert value not in shown


def test_it_checks_the_file_from_the_command_line_without_showing_secrets() -> None:
    result = run_check(str(VALID), env=NOTIFIER_SECRETS)

    assert result.returncode == 0, result.stderr
    out = result.stdout
    for ident, kind, language in [
        ("log", "log", "en"),
        ("noc-webhook", "webhook", "en"),
        ("viettel-noc", "alertmanager", "vi"),
        ("vnpt-noc", "email", "en"),
        ("duty-telegram", "telegram", "en"),
        ("room-chat", "chat", "en"),
        ("audit", "log", "vi"),
    ]:
        assert re.search(rf"^  {ident}\s+{kind}\s+{language}$", out, re.MULTILINE), ident
    assert (
        '  3. severity="critical", session!="" -> noc-webhook, room-chat, audit (by group; '
        "group_wait 10s; group_interval 1m; repeat_interval 15m; escalate to duty-telegram "
        "after 5m)"
    ) in out.splitlines()
    assert "  5. every alert -> log (by group)" in out.splitlines()
    assert "silences: 2" in out.splitlines()
    for value in [*NOTIFIER_SECRETS.values(), "chat-token-b62c", "telegram-token"]:
        assert value not in out + result.stderr


# --------------------------------------------------------------------------
# defaults and inheritance


def test_it_sends_everything_to_the_log_notifier_without_routes(tmp_path: Path) -> None:
    inventory = load_inventory(write_config(tmp_path), {})

    assert inventory.alerting == AlertingSettings()
    assert inventory.notifiers == (log_notifier(),)
    assert inventory.routes == (default_route(AlertingSettings()),)
    assert inventory.routes[0].receivers == ("log",)
    assert inventory.silences == ()


def test_it_gives_the_default_route_the_alerting_timers(tmp_path: Path) -> None:
    path = write_config(tmp_path, top='[alerting]\nlanguage = "en"\ngroup_wait = "1m"\n')

    inventory = load_inventory(path, {})

    assert inventory.routes == (
        Route(
            receivers=("log",),
            group_wait=60.0,
            group_interval=DEFAULT_GROUP_INTERVAL,
            repeat_interval=DEFAULT_REPEAT_INTERVAL,
            escalate_after=DEFAULT_ESCALATE_AFTER,
        ),
    )
    assert inventory.notifiers == (log_notifier("en"),)


def test_it_takes_a_zero_group_wait_but_no_zero_interval(tmp_path: Path) -> None:
    """A page that should go out at once: Alertmanager accepts group_wait 0s too."""
    path = write_config(tmp_path, top='[alerting]\ngroup_wait = "0s"\n')
    assert load_inventory(path, {}).routes[0].group_wait == 0.0
    path = write_config(tmp_path, top='[alerting]\ngroup_interval = "0s"\n')
    with pytest.raises(ConfigError, match="group_interval"):
        load_inventory(path, {})


def test_it_reads_an_empty_routes_array_as_no_routes(tmp_path: Path) -> None:
    inventory = load_inventory(write_config(tmp_path, top="routes = []\n"), {})

    assert inventory.routes == (default_route(AlertingSettings()),)


def test_it_reads_a_relative_ca_file_next_to_the_file(tmp_path: Path) -> None:
    (tmp_path / "ca.pem").write_text("not checked here\n", encoding="utf-8")
    mail = (
        '[[notifiers]]\nid = "mail"\nkind = "email"\nhost = "127.0.0.1"\nport = 2525\n'
        'from = "examnet@example.org"\nto = ["noc@example.org"]\nca_file = "{ca}"\n'
        '[[routes]]\nreceivers = ["mail"]\n'
    )

    inventory = load_inventory(write_config(tmp_path, top=mail.format(ca="ca.pem")), {})
    (_, notifier) = inventory.notifiers
    assert isinstance(notifier.settings, EmailSettings)
    assert notifier.settings.ca_file == str(tmp_path / "ca.pem")

    path = write_config(tmp_path, top=mail.format(ca="absent.pem"))
    assert problem_lines(path, {}) == [
        f'{path}: notifier "mail": field "ca_file": expected an existing file, got "absent.pem" '
        "(a relative path is read from the directory of this file)"
    ]


# --------------------------------------------------------------------------
# warnings: usable, but probably not what was meant


def test_it_warns_about_a_notifier_no_route_names(tmp_path: Path) -> None:
    path = write_config(
        tmp_path,
        top='[[notifiers]]\nid = "noc"\nkind = "webhook"\nurl = "http://127.0.0.1:9/hook"\n',
    )

    assert load_inventory(path, {}).warnings == (
        f'{path}: notifier "noc": no route names it (in receivers or escalate_to): '
        "it receives nothing",
    )


def test_it_counts_escalate_to_as_naming_a_notifier(tmp_path: Path) -> None:
    path = write_config(
        tmp_path,
        top='[[notifiers]]\nid = "noc"\nkind = "webhook"\nurl = "http://127.0.0.1:9/hook"\n'
        '[[routes]]\nreceivers = ["log"]\nescalate_to = "noc"\n',
    )

    assert load_inventory(path, {}).warnings == ()


def test_it_warns_when_no_route_takes_every_alert(tmp_path: Path) -> None:
    path = write_config(
        tmp_path, top='[[routes]]\nmatchers = [\'severity="critical"\']\nreceivers = ["log"]\n'
    )

    assert load_inventory(path, {}).warnings == (
        f'{path}: field "routes": no route without matchers: an alert that no route matches '
        'reaches no notifier (end with one like receivers = ["log"])',
    )


def test_it_warns_about_a_token_written_in_the_file(tmp_path: Path) -> None:
    path = write_config(
        tmp_path,
        top='[[notifiers]]\nid = "duty"\nkind = "telegram"\ntoken = "written-here-8d1c"\n'
        'chat_id = "42"\n[[routes]]\nreceivers = ["duty"]\n',
    )

    inventory = load_inventory(path, {})

    assert inventory.warnings == (
        f'{path}: notifier "duty": field "token": secret written in the file; use ${{NAME}}',
    )
    assert "written-here-8d1c" not in summarize(inventory) + repr(inventory)


# --------------------------------------------------------------------------
# labels: the ones matchers may name are the ones alerts carry


class OneCarrierUp:
    def carriers_up(self, site: str) -> tuple[str, ...]:
        return ("vnpt",)


@pytest.mark.parametrize(
    ("subject_kind", "subject", "kind", "carrier", "site"),
    [
        ("target", "link:thpt-viet-bac/viettel-fibre", "down", "viettel", "thpt-viet-bac"),
        ("target", "endpoint:viettel-gw-lson", "endpoint_down", "viettel", None),
        ("device", "device:thpt-viet-bac/router", "device_unreachable", None, "thpt-viet-bac"),
        ("site", "thpt-viet-bac", "lost_redundancy", None, "thpt-viet-bac"),
        ("monitor", "examnet", "blind", None, None),
    ],
)
def test_every_label_an_alert_carries_is_one_matchers_may_name(
    subject_kind: str, subject: str, kind: str, carrier: str | None, site: str | None
) -> None:
    record = IncidentRecord(
        subject_kind=subject_kind,
        subject=subject,
        kind=kind,
        started_at=at("2027-06-03T08:00:00"),
        severity="critical",
        phase="during",
        reason="test",
        updated_at=at("2027-06-03T08:00:00"),
        carrier=carrier,
        site=site,
        sessions=("Ngữ văn",),
    )

    labels = labels_for(record, valid(), OneCarrierUp())

    assert set(labels) <= set(ALERT_LABELS)


def test_a_rehearsals_alerts_carry_its_session_so_a_route_can_take_them_aside() -> None:
    record = IncidentRecord(
        subject_kind="target", subject="link:thpt-a/viettel-fibre", kind="down",
        started_at=at("2027-06-03T08:00:00"), severity="critical", phase="during",
        reason="test", updated_at=at("2027-06-03T08:00:00"), carrier="viettel", site="thpt-a",
    )  # fmt: skip
    inventory = valid()
    drill = rehearsed(inventory, Rehearsal("Ngữ văn", timedelta(days=-170), at("2026-12-07")))
    drills = [parse_matcher('rehearsal=~".+"')]

    assert labels_for(record, drill, OneCarrierUp())["rehearsal"] == "Ngữ văn"
    assert matches_all(drills, labels_for(record, drill, OneCarrierUp()))
    assert labels_for(record, inventory, OneCarrierUp())["rehearsal"] == ""
    assert not matches_all(drills, labels_for(record, inventory, OneCarrierUp()))


def test_it_documents_every_label_an_alert_carries() -> None:
    page = DOCS.read_text(encoding="utf-8")
    section = page.split("### Alert labels", 1)[1].split("\n## ", 1)[0]
    documented = re.findall(r"^\| `([a-z_]+)` \|", section, re.MULTILINE)

    assert documented == list(ALERT_LABELS)


def test_it_documents_the_alerting_defaults() -> None:
    page = DOCS.read_text(encoding="utf-8")
    section = page.split("## `[alerting]`", 1)[1].split("\n## ", 1)[0]
    defaults = AlertingSettings()

    assert f'| `language` | string | `"{defaults.language}"` (' in section
    for key in TIMER_KEYS:
        assert f'| `{key}` | duration | `"{duration_text(getattr(defaults, key))}"` (' in section


def test_it_loads_the_alerting_example_of_the_reference_page(tmp_path: Path) -> None:
    page = DOCS.read_text(encoding="utf-8")
    example = page.split("## An alerting example", 1)[1].split("```toml\n", 1)[1]
    path = write_config(tmp_path, top=example.split("```", 1)[0])

    inventory = load_inventory(path, dict(EXAMPLE_SECRETS))

    assert len(inventory.routes) == 3
    assert inventory.warnings == ()
    printed = page.split("`examnet check` prints them:\n\n```\n", 1)[1].split("```", 1)[0]
    assert printed in summarize(inventory)


# --------------------------------------------------------------------------
# the shipped file: the log only, with commented examples that work


def shipped() -> Inventory:
    return load_inventory(SHIPPED, dict(SHIPPED_SECRETS))


def test_it_ships_routes_to_the_log_notifier_only() -> None:
    inventory = shipped()

    assert inventory.alerting.language == "vi"
    assert [n.kind for n in inventory.notifiers] == ["log"]
    assert inventory.silences == ()
    receivers = {r for route in inventory.routes for r in route.receivers}
    assert receivers == {"log"}
    assert all(route.escalate_to is None for route in inventory.routes)
    critical, rest = inventory.routes
    assert critical.matchers == matchers('severity="critical"', 'session!=""')
    assert critical.group_wait < inventory.alerting.group_wait
    assert rest.matchers == ()
    assert rest.group_wait == inventory.alerting.group_wait


def uncommented_examples(text: str) -> tuple[str, list[str]]:
    """The shipped text with each commented [[notifiers]]/[[routes]]/[[silences]] block live."""
    blocks = re.findall(r"^# \[\[(?:notifiers|routes|silences)\]\]\n(?:# .*\n)+", text, re.M)
    for block in blocks:
        live = "".join(line.removeprefix("# ") + "\n" for line in block.splitlines())
        text = text.replace(block, live, 1)
    return text, blocks


def test_it_ships_commented_examples_of_every_networked_notifier_that_load(
    tmp_path: Path,
) -> None:
    text, blocks = uncommented_examples(SHIPPED.read_text(encoding="utf-8"))
    path = tmp_path / "sites.toml"
    path.write_text(text, encoding="utf-8")

    inventory = load_inventory(path, dict(SHIPPED_SECRETS) | EXAMPLE_SECRETS)

    assert len(blocks) == 5 + 3 + 1
    assert {n.kind for n in inventory.notifiers} == set(SETTINGS)
    assert len(inventory.routes) == 5
    assert [s.id for s in inventory.silences] == ["viettel-fibre-maintenance"]
    assert [w.removeprefix(f"{path}: ") for w in inventory.warnings] == [
        w.removeprefix(f"{SHIPPED}: ") for w in shipped().warnings
    ]


def test_it_ships_examples_that_point_at_placeholders_only() -> None:
    text, _ = uncommented_examples(SHIPPED.read_text(encoding="utf-8"))
    addresses = re.findall(r"^(?:url|api_url|host|from|to) = (.*)$", text, re.MULTILINE)

    assert len(addresses) >= 6
    for written in addresses:
        hosts = re.findall(r"(?://|@)([a-z0-9.-]+)|^\"([a-z0-9.-]+)\"$", written)
        for found in hosts:
            host = found[0] or found[1]
            assert host.endswith("example.org"), written
    # the secrets of the examples are references, never values
    assert not re.search(r"^(?:secret|password|token) = \"[^$]", text, re.MULTILINE)
