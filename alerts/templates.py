"""One line in plain words per alert, in Vietnamese and in English.

The words an on-call engineer reads at 06:30 on exam day: which exam site,
which carrier, what is left, during which session. One template per
condition kind and language; the facts come from `Facts`.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from alerts.phrases import localized
from monitor.model.alerting import LANGUAGES


@dataclass(frozen=True, slots=True)
class Facts:
    """What a summary may say, resolved from the inventory and the evaluator."""

    kind: str
    subject: str
    reason: str
    site: str = ""  # the site's name, e.g. "THPT Việt Bắc"
    district: str = ""
    carrier: str = ""  # the carrier's name
    link: str = ""
    endpoint: str = ""
    device: str = ""
    session: str = ""  # the exam session it touches, if any
    carriers_lost: str = ""  # names of carriers no longer up at the site
    carriers_up: int = 0
    min_carriers: int = 0
    sites: tuple[str, ...] = ()  # sites an endpoint outage touches (names)


VI = {
    "down": "{site} ({district}) mất kết nối {carrier} ({link}){during}",
    "endpoint_down": "{carrier}: {endpoint} ngừng hoạt động — ảnh hưởng {n} điểm thi: "
    "{sites}{during}",
    "children_down": "{carrier}: mọi đường truyền sau {endpoint} đều mất — {n} điểm thi: "
    "{sites}{during}",
    "isolated": "{site} ({district}) MẤT LIÊN LẠC hoàn toàn — không còn nhà mạng nào{during}",
    "lost_redundancy": "{site} ({district}) mất kết nối {carriers_lost} — còn "
    "{carriers_up}/{min_carriers} nhà mạng{during}",
    "lost_redundancy/shared": "{site} ({district}) không đủ dự phòng: các nhà mạng dùng chung "
    "một thiết bị hoặc UPS — {reason}{during}",
    "degraded": "{site} ({district}): kết nối suy giảm — {reason}{during}",
    "congested": "{site} ({district}): đường truyền {carrier} ({link}) bị nghẽn — {reason}{during}",
    "loss": "{site}: {carrier} ({link}) mất gói — {reason}{during}",
    "latency": "{site}: {carrier} ({link}) trễ cao — {reason}{during}",
    "jitter": "{site}: {carrier} ({link}) dao động trễ lớn — {reason}{during}",
    "rtt_anomaly": "{site}: {carrier} ({link}) trễ bất thường so với thường lệ — {reason}{during}",
    "flapping": "{subject} chập chờn — {reason}",
    "on_battery": "{site} ({district}) mất điện lưới, đang chạy UPS — {reason}{during}",
    "power_low": "{site} ({district}): UPS sắp cạn — {reason}{during}",
    "power_at_risk": "{site} ({district}): UPS không đủ đến hết buổi thi — {reason}",
    "device_unreachable": "Không truy vấn được thiết bị {device} ({site}) — {reason}",
    "blind": "examnet mất kết nối mạng của chính mình — không giám sát được các điểm thi "
    "({reason})",
    "not_ready": "Chưa sẵn sàng cho buổi thi {session}: {reason}",
    "database_down": "examnet không ghi được cơ sở dữ liệu — {reason}; cảnh báo vẫn được gửi",
    "database_file": "Tệp cơ sở dữ liệu của examnet bị xoá hoặc thay thế — {reason}",
    "no_rounds": "examnet không còn đo: {reason}",
    "probe_errors": "examnet không gửi được gói đo: {reason}",
    "rebooted": "Thiết bị {device} ({site}) vừa khởi động lại — {reason}",
    "_other": "{subject}: {kind} — {reason}{during}",
}
VI_DURING = " — trong buổi thi {session}"

EN = {
    "down": "{site} ({district}) lost its {carrier} link ({link}){during}",
    "endpoint_down": "{carrier}: {endpoint} is down — {n} exam sites affected: {sites}{during}",
    "children_down": "{carrier}: every link behind {endpoint} is down — {n} exam sites: "
    "{sites}{during}",
    "isolated": "{site} ({district}) is ISOLATED — no carrier left{during}",
    "lost_redundancy": "{site} ({district}) lost {carriers_lost} — {carriers_up}/{min_carriers} "
    "carriers left{during}",
    "lost_redundancy/shared": "{site} ({district}) has no real redundancy: its carriers share "
    "one endpoint or UPS — {reason}{during}",
    "degraded": "{site} ({district}): degraded — {reason}{during}",
    "congested": "{site} ({district}): {carrier} link ({link}) congested — {reason}{during}",
    "loss": "{site}: packet loss on {carrier} ({link}) — {reason}{during}",
    "latency": "{site}: high latency on {carrier} ({link}) — {reason}{during}",
    "jitter": "{site}: high jitter on {carrier} ({link}) — {reason}{during}",
    "rtt_anomaly": "{site}: unusual latency on {carrier} ({link}) — {reason}{during}",
    "flapping": "{subject} is flapping — {reason}",
    "on_battery": "{site} ({district}) lost mains power, running on UPS — {reason}{during}",
    "power_low": "{site} ({district}): UPS nearly empty — {reason}{during}",
    "power_at_risk": "{site} ({district}): the UPS will not last the exam session — {reason}",
    "device_unreachable": "Cannot poll {device} ({site}) — {reason}",
    "blind": "examnet lost its own network — exam sites are not being watched ({reason})",
    "database_down": "examnet cannot write its database — {reason}; alerts still go out",
    "database_file": "examnet's database file was deleted or replaced — {reason}",
    "no_rounds": "examnet has stopped probing: {reason}",
    "probe_errors": "examnet cannot send its probes: {reason}",
    "not_ready": "Not ready for the {session} session: {reason}",
    "rebooted": "{device} ({site}) rebooted — {reason}",
    "_other": "{subject}: {kind} — {reason}{during}",
}
EN_DURING = " — during the {session} session"

_TEMPLATES = {"vi": (VI, VI_DURING), "en": (EN, EN_DURING)}


def summary(facts: Facts, language: str) -> str:
    templates, during = _TEMPLATES.get(language, _TEMPLATES["vi"])
    kind = facts.kind
    if kind == "lost_redundancy" and not facts.carriers_lost:
        kind = "lost_redundancy/shared"  # nothing lost: the links were never independent
    template = templates.get(kind, templates["_other"])
    return template.format(
        site=facts.site or facts.subject,
        district=facts.district or "?",
        carrier=facts.carrier or "?",
        link=facts.link,
        endpoint=facts.endpoint or facts.subject,
        device=facts.device or facts.subject,
        session=facts.session,
        reason=localized(facts.reason, language),
        subject=facts.subject,
        kind=facts.kind,
        carriers_lost=facts.carriers_lost or "?",
        carriers_up=facts.carriers_up,
        min_carriers=facts.min_carriers,
        n=len(facts.sites),
        sites=", ".join(facts.sites),
        during=during.format(session=facts.session) if facts.session else "",
    )


def summaries(facts: Facts) -> dict[str, str]:
    return {language: summary(facts, language) for language in LANGUAGES}


# How long it lasted, after the words of its worst moment (a resolved notice).
LASTED = {"vi": "{summary} — kéo dài {lasted}", "en": "{summary} — lasted {lasted}"}
_UNITS = {"vi": ("giờ", "phút", "dưới 1 phút"), "en": ("h", "min", "under a minute")}


def lasted(length: timedelta, language: str) -> str:
    """`1 h 5 min`, `12 min`, `under a minute` (`1 giờ 5 phút` ...)."""
    hour, minute, short = _UNITS.get(language, _UNITS["vi"])
    minutes = int(length.total_seconds() // 60)
    if minutes < 1:
        return short
    hours, minutes = divmod(minutes, 60)
    if not hours:
        return f"{minutes} {minute}"
    return f"{hours} {hour}" + (f" {minutes} {minute}" if minutes else "")


def resolved_summaries(worst: dict[str, str], length: timedelta) -> dict[str, str]:
    """A resolution's words: the incident at its worst, and how long it lasted (issue 9.5)."""
    return {
        language: LASTED.get(language, LASTED["vi"]).format(
            summary=text, lasted=lasted(length, language)
        )
        for language, text in worst.items()
    }
