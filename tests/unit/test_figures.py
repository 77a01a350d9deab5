import pytest

from monitor.evaluation.figures import summarize
from probes.pinger import Echo


def _echoes(*rtts: float | None) -> list[Echo]:
    return [
        Echo(sequence=i, sent_at=1000.0 + i, rtt=r, lost=None if r is not None else "timeout")
        for i, r in enumerate(rtts)
    ]


def test_it_computes_loss_rtt_and_jitter_from_the_answered_echoes() -> None:
    figures = summarize(_echoes(0.010, None, 0.030, 0.020, 0.040))
    assert figures.sent == 5
    assert figures.received == 4
    assert figures.loss == pytest.approx(0.2)
    assert figures.rtt_min == pytest.approx(0.010)
    assert figures.rtt_max == pytest.approx(0.040)
    assert figures.rtt_avg == pytest.approx(0.025)
    assert figures.rtt_median == pytest.approx(0.025)
    # consecutive answered echoes: |30-10|, |20-30|, |40-20| ms
    assert figures.jitter == pytest.approx((0.020 + 0.010 + 0.020) / 3)


def test_it_says_all_lost_only_when_echoes_were_sent_and_none_answered() -> None:
    assert summarize(_echoes(None, None)).all_lost
    assert summarize(_echoes(None, None)).loss == 1.0
    assert not summarize(_echoes(None, 0.001)).all_lost
    nothing = summarize([])
    assert not nothing.all_lost
    assert nothing.loss is None


def test_it_has_no_jitter_with_a_single_answer() -> None:
    figures = summarize(_echoes(0.005))
    assert figures.jitter is None
    assert figures.rtt_median == pytest.approx(0.005)
