"""The words of alerts: what on-call reads first."""

from __future__ import annotations

from alerts.templates import Facts, summaries


def test_a_site_that_lost_a_carrier_says_which_and_what_is_left_during_the_session() -> None:
    words = summaries(Facts(kind="lost_redundancy", subject="thpt-viet-bac", reason="",
                            site="THPT Việt Bắc", district="TP Lạng Sơn", carriers_lost="Viettel",
                            carriers_up=1, min_carriers=2, session="Ngữ văn"))
    assert words["vi"] == ("THPT Việt Bắc (TP Lạng Sơn) mất kết nối Viettel — còn 1/2 nhà mạng"
                           " — trong buổi thi Ngữ văn")
    assert words["en"].startswith("THPT Việt Bắc (TP Lạng Sơn) lost Viettel — 1/2 carriers left")


def test_fake_redundancy_is_not_worded_as_a_lost_carrier() -> None:
    """Found on the demo: "mất kết nối ? — còn 2/2 nhà mạng" for links sharing a gateway."""
    words = summaries(Facts(kind="lost_redundancy", subject="thpt-van-quan",
                            reason="1 of 2 required independent carriers up", site="THPT Văn Quan",
                            district="Văn Quan", carriers_up=2, min_carriers=2))
    assert "?" not in words["vi"]
    assert "2/2" not in words["vi"]
    assert "dùng chung" in words["vi"]
    assert "share one endpoint or UPS" in words["en"]
