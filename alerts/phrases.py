"""The evaluator's reasons in the receiver's language.

The evaluator states its facts once, in English, for the log, the database
and the API (machines and carriers' scripts read those). A Vietnamese
on-call engineer must read them in Vietnamese: each phrase the evaluator
and the probes build has its translation here, applied fragment by
fragment so that composed reasons ("2 of 2 required ...; down: ...")
translate whole. A phrase without a translation stays as it is (an
English fragment is better than a wrong one); tests/unit/test_phrases.py
renders every reason the code builds and fails on English left behind.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

_N = r"(\d+(?:\.\d+)?)"  # a number
_P = r"(\d+%)"  # a percentage

# (pattern, replacement), applied in order: longer phrases before their parts
_VI_RULES: Sequence[tuple[str, str]] = (
    # sites (monitor/evaluation/sites.py)
    (r"no link up: (.+) down", r"không còn đường truyền nào: \1 mất kết nối"),
    (
        rf"{_N} of {_N} required independent carriers up",
        r"\1/\2 nhà mạng độc lập cần thiết còn hoạt động",
    ),
    (
        r" \(their links share an endpoint or UPS\)",
        " (các đường truyền dùng chung thiết bị hoặc UPS)",
    ),
    (r"; down: none", "; mất kết nối: không"),
    (r"; down: ", "; mất kết nối: "),
    (r": none;", ": không;"),
    (r"could not measure ", "không đo được "),
    (r"no verdict yet on ", "chưa có kết luận về "),
    (r"no verdict yet", "chưa có kết luận"),
    (r"^degraded: ", "suy giảm: "),
    (rf"{_N} carriers up", r"\1 nhà mạng hoạt động"),
    # ping (monitor/evaluation/ping.py)
    (
        rf"RTT up to {_N} ms in {_N} of the last {_N} rounds, {_N}× its usual {_N} ms",
        r"RTT tới \1 ms trong \2/\3 lượt đo gần nhất, gấp \4 lần mức thường lệ \5 ms",
    ),
    (rf"in {_N} of the last {_N} rounds", r"trong \1/\2 lượt đo gần nhất"),
    (rf"packet loss up to {_P}", r"mất gói tới \1"),
    (rf"jitter up to {_N} ms", r"dao động trễ tới \1 ms"),
    (rf"RTT up to {_N} ms", r"RTT tới \1 ms"),
    (rf"\(warn {_P}\)", r"(ngưỡng \1)"),
    (rf"\(warn {_N} ms\)", r"(ngưỡng \1 ms)"),
    (
        rf"every echo lost in {_N} consecutive rounds",
        r"mất mọi gói ping trong \1 lượt đo liên tiếp",
    ),
    (
        rf"answered {_N}/{_N} echoes in {_N} consecutive rounds",
        r"trả lời \1/\2 gói ping trong \3 lượt đo liên tiếp",
    ),
    (rf"{_N} rounds could not run: ", r"\1 lượt đo không chạy được: "),
    # links, endpoints, dependencies
    (r"its upstream (\S+) is down", r"thiết bị phía trên \1 ngừng hoạt động"),
    (
        rf"(\S+) answers, but all {_N} links behind it are down \(sites: (.*)\)",
        r"\1 vẫn trả lời, nhưng cả \2 đường truyền phía sau đều mất (điểm thi: \3)",
    ),
    (r"interface (\S+) is down \(ifOperStatus\)", r"giao diện \1 ngừng hoạt động (ifOperStatus)"),
    (r"interface (\S+) is up again", r"giao diện \1 hoạt động trở lại"),
    (
        rf"interface (\S+) at {_P} of its capacity, sustained",
        r"giao diện \1 ở mức \2 dung lượng, kéo dài",
    ),
    (
        rf"interface (\S+) near capacity \(utilisation {_P}, sustained\)",
        r"giao diện \1 gần đầy (sử dụng \2, kéo dài)",
    ),
    (rf"{_N} state changes in the last {_N} min", r"\1 lần đổi trạng thái trong \2 phút qua"),
    (r"back to normal", "đã bình thường trở lại"),
    # power (monitor/evaluation/snmp.py, power.py)
    (
        rf"{_N} minutes of battery left, {_N} minutes of (.+) to go",
        r"pin còn \1 phút, buổi thi \3 còn \2 phút",
    ),
    (r"on battery, battery low", "đang chạy pin, pin yếu"),
    (r"on battery", "đang chạy pin"),
    (rf": {_N} minutes left", r": còn \1 phút"),
    (r"^on mains$", "điện lưới"),
    # devices (monitor/evaluation/evaluator.py, probes/snmp_failures.py)
    (
        r"no answer: it is polled over (\S+), which is down",
        r"không trả lời: thiết bị được truy vấn qua \1, đường này đang mất",
    ),
    (rf"{_N} polls failed: ", r"\1 lần truy vấn thất bại: "),
    (
        r"no answer \(wrong community or device down\)",
        "không trả lời (sai community hoặc thiết bị hỏng)",
    ),
    (
        r"no answer \(wrong privacy key or device down\)",
        "không trả lời (sai khoá mã hoá hoặc thiết bị hỏng)",
    ),
    (
        r"no answer \(device down or unreachable\)",
        "không trả lời (thiết bị hỏng hoặc không tới được)",
    ),
    (r"authentication failed \(wrong auth key\?\)", "xác thực thất bại (sai khoá xác thực?)"),
    (r"authentication failed \(unknown user\)", "xác thực thất bại (người dùng không tồn tại)"),
    (
        r"authentication failed \(security level not allowed\)",
        "xác thực thất bại (mức bảo mật không được phép)",
    ),
    (
        r"engine ID changed: .*",
        "engine ID đã đổi (thiết bị khởi động lại hoặc bị thay), dò lại không thành công",
    ),
    (
        r"not in time window: .*",
        "lệch cửa sổ thời gian SNMPv3 (thiết bị khởi động lại?), đồng bộ lại không thành công",
    ),
    (
        r"malformed answer: .*",
        "câu trả lời không hợp lệ: thiết bị gửi dữ liệu không giải mã hoặc đối chiếu được",
    ),
    # readiness (monitor/evaluation/readiness.py)
    (
        rf"NOT ready for (.+) in (\d+ (?:min|s)): {_N} of {_N} sites not ready: ",
        r"CHƯA sẵn sàng cho buổi \1 trước \2: \3/\4 điểm thi chưa sẵn sàng: ",
    ),
    (
        rf"ready for (.+) in (\d+ (?:min|s)): all {_N} sites ready",
        r"sẵn sàng cho buổi \1 trước \2: cả \3 điểm thi",
    ),
    # examnet itself (monitor/selfwatch.py, evaluator)
    (rf"no write has succeeded for {_N} s", r"không ghi được dữ liệu trong \1 s"),
    (
        rf"no probe round has finished for {_N} s \(interval {_N} s\)",
        r"không lượt đo nào hoàn tất trong \1 s (chu kỳ \2 s)",
    ),
    (
        r"the control target and most targets stopped answering together: "
        r"examnet's own network is down, not the sites'",
        "điểm kiểm chứng và hầu hết mục tiêu cùng ngừng trả lời: mạng của chính examnet "
        "bị mất, không phải mạng của các điểm thi",
    ),
)

_COMPILED = tuple((re.compile(p), r) for p, r in _VI_RULES)


def localized(reason: str, language: str) -> str:
    """`reason` in `language` (English is what the evaluator writes)."""
    if language != "vi" or not reason:
        return reason
    text = reason
    for pattern, replacement in _COMPILED:
        text = pattern.sub(replacement, text)
    return text
