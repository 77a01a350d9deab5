"""The web pages' words, in the plan's `[alerting] language` (vi or en): one place for them.

Reasons (an incident's why) are translated by `alerts.phrases.localized`,
as in notifications; the names of kinds, severities, phases and states
are here, since phrases.py translates sentences, not names.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Final

from alerts.phrases import localized

_EN: Final[dict[str, str]] = {
    "title": "examnet",
    "login": "Sign in",
    "token": "API token",
    "token_hint": "Paste the token you were given (examnet token create).",
    "bad_token": "This token is not valid, has expired or was revoked.",
    "too_many": "Too many failed attempts: wait a minute and try again.",
    "logout": "Sign out",
    "open_incidents": "Open incidents",
    "incidents": "Incidents",
    "availability": "Availability",
    "none": "None.",
    "filter": "Filter",
    "clear": "Clear",
    "download": "Download",
    "carrier": "Carrier",
    "site": "Site",
    "district": "District",
    "kind": "Kind",
    "severity": "Severity",
    "state": "State",
    "any": "any",
    "open": "open",
    "closed": "closed",
    "since": "From",
    "until": "To",
    "phase": "Phase",
    "session": "Session",
    "search": "Search",
    "sort": "Sort",
    "newest": "newest first",
    "oldest": "oldest first",
    "worst": "most severe first",
    "started": "Started",
    "ended": "Ended",
    "subject": "Subject",
    "reason": "Reason",
    "acknowledged": "Acknowledged",
    "previous": "Previous",
    "next": "Next",
    "shown": "{first}–{last} of {total}",
    "timeline": "Timeline",
    "state_change": "State change",
    "notification": "Notification",
    "ack": "Acknowledge",
    "ack_by": "Acknowledged by",
    "note": "Note",
    "add_note": "Add note",
    "who": "Who",
    "chart": "Measurements around the incident",
    "rtt": "RTT median (ms)",
    "loss": "Loss (%)",
    "utilisation": "Utilisation (%)",
    "no_data": "no data",
    "thinned": "each point is {every} rounds, drawn at their worst (long incident)",
    "by_site": "Per site",
    "by_carrier": "Per carrier",
    "by_link": "Per link",
    "sessions_only": "Exam sessions only",
    "exclude_silenced": "Without silenced time",
    "show": "Show",
    "link": "Link",
    "links": "Links",
    "incident_count": "Incidents",
    "mttr": "MTTR",
    "time_to_ack": "Time to ack",
    "down_time": "Down",
    "not_found": "No such incident.",
    "bad_filter": "A filter is not valid",
    "times_in": "Times in {zone}.",
    "your_open": "Your carrier's open incidents",
    "session_expired": "Your session has ended: sign in again.",
    "forbidden": "Your token may not do this.",
}

_VI: Final[dict[str, str]] = {
    "title": "examnet",
    "login": "Đăng nhập",
    "token": "Mã truy cập (token)",
    "token_hint": "Dán mã truy cập được cấp (examnet token create).",
    "bad_token": "Mã truy cập không hợp lệ, đã hết hạn hoặc đã bị thu hồi.",
    "too_many": "Sai quá nhiều lần: hãy đợi một phút rồi thử lại.",
    "logout": "Đăng xuất",
    "open_incidents": "Sự cố đang mở",
    "incidents": "Sự cố",
    "availability": "Độ sẵn sàng",
    "none": "Không có.",
    "filter": "Lọc",
    "clear": "Xoá lọc",
    "download": "Tải về",
    "carrier": "Nhà mạng",
    "site": "Điểm thi",
    "district": "Huyện",
    "kind": "Loại",
    "severity": "Mức độ",
    "state": "Trạng thái",
    "any": "tất cả",
    "open": "đang mở",
    "closed": "đã đóng",
    "since": "Từ",
    "until": "Đến",
    "phase": "Giai đoạn",
    "session": "Buổi thi",
    "search": "Tìm",
    "sort": "Sắp xếp",
    "newest": "mới nhất trước",
    "oldest": "cũ nhất trước",
    "worst": "nghiêm trọng nhất trước",
    "started": "Bắt đầu",
    "ended": "Kết thúc",
    "subject": "Đối tượng",
    "reason": "Lý do",
    "acknowledged": "Đã xác nhận",
    "previous": "Trước",
    "next": "Sau",
    "shown": "{first}–{last} / {total}",
    "timeline": "Diễn biến",
    "state_change": "Đổi trạng thái",
    "notification": "Thông báo",
    "ack": "Xác nhận",
    "ack_by": "Xác nhận bởi",
    "note": "Ghi chú",
    "add_note": "Thêm ghi chú",
    "who": "Người thực hiện",
    "chart": "Số đo quanh thời gian sự cố",
    "rtt": "RTT trung vị (ms)",
    "loss": "Mất gói (%)",
    "utilisation": "Mức sử dụng (%)",
    "no_data": "không có dữ liệu",
    "thinned": "mỗi điểm gộp {every} lượt đo, vẽ theo giá trị xấu nhất (sự cố dài)",
    "by_site": "Theo điểm thi",
    "by_carrier": "Theo nhà mạng",
    "by_link": "Theo đường truyền",
    "sessions_only": "Chỉ trong buổi thi",
    "exclude_silenced": "Bỏ thời gian tạm lặng",
    "show": "Xem",
    "link": "Đường truyền",
    "links": "Số đường truyền",
    "incident_count": "Sự cố",
    "mttr": "Thời gian khắc phục TB",
    "time_to_ack": "Thời gian xác nhận TB",
    "down_time": "Thời gian mất",
    "not_found": "Không có sự cố này.",
    "bad_filter": "Bộ lọc không hợp lệ",
    "times_in": "Giờ theo múi {zone}.",
    "your_open": "Sự cố đang mở của nhà mạng",
    "session_expired": "Phiên đã hết: hãy đăng nhập lại.",
    "forbidden": "Mã truy cập này không được phép làm việc này.",
}

# names of the vocabulary (monitor/model/vocabulary.py) in Vietnamese; English shows the name
_VI_NAMES: Final[dict[str, str]] = {
    "down": "mất kết nối",
    "loss": "mất gói",
    "latency": "trễ cao",
    "jitter": "dao động trễ",
    "rtt_anomaly": "trễ bất thường",
    "congested": "nghẽn",
    "flapping": "chập chờn",
    "endpoint_down": "thiết bị nhà mạng mất kết nối",
    "children_down": "mọi đường truyền phía sau mất",
    "isolated": "cô lập",
    "lost_redundancy": "mất dự phòng",
    "degraded": "suy giảm",
    "on_battery": "đang chạy pin",
    "power_low": "pin yếu",
    "power_at_risk": "nguồn có nguy cơ",
    "device_unreachable": "thiết bị không trả lời",
    "blind": "examnet mất mạng",
    "not_ready": "chưa sẵn sàng",
    "info": "thông tin",
    "warning": "cảnh báo",
    "critical": "nghiêm trọng",
    "before": "trước kỳ thi",
    "during": "trong kỳ thi",
    "after": "sau kỳ thi",
    "outside": "ngoài kỳ thi",
    "up": "hoạt động",
    "unknown": "chưa rõ",
    "ok": "bình thường",
    "pending": "đang chờ",
    "delivered": "đã gửi",
    "failed": "thất bại",
    "expired": "hết hạn",
}


class Words:
    """The pages' words in one language: `words["login"]`, `words.name("down")`."""

    def __init__(self, language: str) -> None:
        self.language = "en" if language == "en" else "vi"
        self._words: Mapping[str, str] = _EN if self.language == "en" else _VI

    def __getitem__(self, key: str) -> str:
        return self._words[key]

    def name(self, value: str | None) -> str:
        """A kind, severity, phase or state as the reader says it."""
        if value is None:
            return ""
        if self.language == "en":
            return value.replace("_", " ")
        return _VI_NAMES.get(value, value.replace("_", " "))

    def reason(self, text: str) -> str:
        return localized(text, self.language)


def keys() -> tuple[frozenset[str], frozenset[str]]:
    """Both languages' keys, for the test that they agree."""
    return frozenset(_EN), frozenset(_VI)
