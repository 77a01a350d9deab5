"""The report's words in Vietnamese and English (the file's `[alerting] language`)."""

from __future__ import annotations

from monitor.report.rules import Outcome, Requirement

EN = {
    "title": "Communications report for the exam plan",
    "range": "Period",
    "generated": "Generated",
    "scope": "Carrier",
    "session": "Exam session",
    "phase": "Phase",
    "before": "before the exam",
    "during": "during the exam",
    "after": "after the exam",
    "summary": "Summary",
    "sites_met": "sites by outcome",
    "site": "Site",
    "district": "District",
    "carrier": "Carrier",
    "availability": "Availability",
    "redundant": "With full redundancy",
    "incidents": "Incidents",
    "mttr": "Mean time to recover",
    "tta": "Mean time to acknowledge",
    "readiness": "Readiness before the session",
    "ready": "ready",
    "not_ready": "NOT ready",
    "no_readiness": "no readiness snapshot was taken",
    "unmeasured": "examnet was not running for part of this window (not counted)",
    "sites_ready": "sites ready",
    "strip": "Sites over time (only sites with an incident in the window)",
    "quiet": "other sites: up throughout",
    "up": "up",
    "degraded": "degraded",
    "down": "isolated",
    "bars": "Availability by carrier",
    "all_incidents": "Incidents",
    "start": "Start",
    "end": "End",
    "duration": "Duration",
    "worst": "Worst figures",
    "to_ack": "To acknowledge",
    "to_recover": "To recover",
    "kind": "Condition",
    "subject": "Subject",
    "open": "still open",
    "none": "none",
    "definitions": "How outcomes are judged",
    "carrier_rule": "A carrier's R1 — violated: one of its links or endpoints was down in the "
    "window; at risk: a link flapped; its R3 as a site's, over its own links. Redundancy and "
    "power belong to the site.",
    "availability_rule": "Availability: the share of the window (up to now) a site was not "
    "isolated (with full redundancy: neither isolated nor below its minimum of carriers); a "
    "carrier's: the mean over its links of the share not down. Silenced time counts: "
    "maintenance during the exam is still an interruption.",
    "times_rule": "To recover: end − start of an incident; to acknowledge: its first "
    "acknowledgement − start.",
    "not_yet": "windows that have not started are left out",
    "all_met": "every site met every requirement",
    "shown": "sites with an outcome other than met",
}

VI = {
    "title": "Báo cáo bảo đảm thông tin liên lạc phục vụ kỳ thi",
    "range": "Thời gian",
    "generated": "Lập lúc",
    "scope": "Nhà mạng",
    "session": "Buổi thi",
    "phase": "Giai đoạn",
    "before": "trước kỳ thi",
    "during": "trong kỳ thi",
    "after": "sau kỳ thi",
    "summary": "Tổng hợp",
    "sites_met": "số điểm thi theo kết quả",
    "site": "Điểm thi",
    "district": "Huyện",
    "carrier": "Nhà mạng",
    "availability": "Tỉ lệ sẵn sàng",
    "redundant": "Đủ dự phòng",
    "incidents": "Sự cố",
    "mttr": "Thời gian khắc phục trung bình",
    "tta": "Thời gian tiếp nhận trung bình",
    "readiness": "Kiểm tra sẵn sàng trước buổi thi",
    "ready": "sẵn sàng",
    "not_ready": "CHƯA sẵn sàng",
    "no_readiness": "không có lần kiểm tra sẵn sàng nào",
    "unmeasured": "examnet không chạy trong một phần thời gian này (không tính)",
    "sites_ready": "điểm thi sẵn sàng",
    "strip": "Trạng thái các điểm thi theo thời gian (chỉ điểm có sự cố)",
    "quiet": "các điểm thi khác: hoạt động suốt",
    "up": "hoạt động",
    "degraded": "suy giảm",
    "down": "mất liên lạc",
    "bars": "Tỉ lệ sẵn sàng theo nhà mạng",
    "all_incidents": "Danh sách sự cố",
    "start": "Bắt đầu",
    "end": "Kết thúc",
    "duration": "Kéo dài",
    "worst": "Mức tệ nhất",
    "to_ack": "Tiếp nhận sau",
    "to_recover": "Khắc phục sau",
    "kind": "Tình trạng",
    "subject": "Đối tượng",
    "open": "chưa kết thúc",
    "none": "không có",
    "definitions": "Cách đánh giá",
    "carrier_rule": "R1 của nhà mạng — vi phạm: một đường truyền hoặc thiết bị của nhà mạng bị "
    "mất trong khoảng thời gian; có nguy cơ: đường truyền chập chờn; R3 như của điểm thi, trên "
    "các đường truyền của nhà mạng. Dự phòng và nguồn điện thuộc về điểm thi.",
    "availability_rule": "Tỉ lệ sẵn sàng: phần thời gian (tính đến hiện tại) điểm thi không mất "
    "liên lạc (đủ dự phòng: không mất liên lạc và không dưới mức nhà mạng tối thiểu); của nhà "
    "mạng: trung bình trên các đường truyền của nhà mạng, phần thời gian không mất kết nối. "
    "Thời gian tạm tắt cảnh báo vẫn được tính.",
    "times_rule": "Khắc phục sau: kết thúc − bắt đầu của sự cố; tiếp nhận sau: lần xác nhận "
    "đầu tiên − bắt đầu.",
    "not_yet": "các khoảng thời gian chưa bắt đầu không được đưa vào",
    "all_met": "mọi điểm thi đạt mọi yêu cầu",
    "shown": "điểm thi có kết quả khác “đạt”",
}

OUTCOMES = {
    "en": {
        Outcome.MET: "met",
        Outcome.AT_RISK: "at risk",
        Outcome.VIOLATED: "violated",
        Outcome.NOT_WATCHED: "not watched",
    },
    "vi": {
        Outcome.MET: "đạt",
        Outcome.AT_RISK: "có nguy cơ",
        Outcome.VIOLATED: "vi phạm",
        Outcome.NOT_WATCHED: "không giám sát",
    },
}

REQUIREMENTS = {
    "en": {
        Requirement.R1: "R1 uninterrupted",
        Requirement.REDUNDANCY: "Redundancy",
        Requirement.R2: "R2 backup power",
        Requirement.R3: "R3 no congestion",
    },
    "vi": {
        Requirement.R1: "R1 thông suốt",
        Requirement.REDUNDANCY: "Dự phòng nhà mạng",
        Requirement.R2: "R2 nguồn dự phòng",
        Requirement.R3: "R3 không nghẽn",
    },
}


def words(language: str) -> dict[str, str]:
    return VI if language == "vi" else EN


def outcome_word(outcome: Outcome, language: str) -> str:
    return OUTCOMES["vi" if language == "vi" else "en"][outcome]


def requirement_word(requirement: Requirement, language: str) -> str:
    return REQUIREMENTS["vi" if language == "vi" else "en"][requirement]
