"""The rate limit on failed authentications, on a fake clock."""

from __future__ import annotations

from monitor.web.access import FailedLogins, Principal


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_it_blocks_an_address_after_its_failures_until_the_window_passes() -> None:
    clock = FakeClock()
    logins = FailedLogins(limit=3, window=60.0, monotonic=clock)
    for _ in range(3):
        assert logins.blocked("10.0.0.1") is None
        logins.failed("10.0.0.1")
        clock.now += 1
    assert logins.blocked("10.0.0.1") == 57.0  # the first failure leaves the window then
    assert logins.blocked("10.0.0.2") is None  # per address
    clock.now += 57
    assert logins.blocked("10.0.0.1") is None


def test_a_carrier_is_scoped_and_the_others_are_not() -> None:
    assert Principal("Viettel NOC", "carrier", "viettel").scope == "viettel"
    assert Principal("Sở NOC", "noc").scope is None
    assert Principal("EXAMNET_API_TOKEN", "admin").scope is None
