"""The ICMP engine against real sockets: loopback, and a router namespace."""

from __future__ import annotations

import asyncio
import logging
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from monitor.evaluation.figures import summarize
from monitor.model.inventory import ProbeSettings, Target
from monitor.model.vocabulary import TargetKind
from probes import icmpwire
from probes.icmp import IcmpProber
from probes.pinger import Pinger, SocketMode
from tests.fixtures.environment import need_root
from tests.fixtures.router import Router, wait_operational

pytestmark = pytest.mark.lab

FAST = ProbeSettings(count=3, echo_interval=0.02, timeout=0.5)
MODES = [SocketMode.RAW, SocketMode.UNPRIVILEGED]
REPO = Path(__file__).resolve().parents[2]


def _target(address: str) -> Target:
    return Target(key=f"endpoint:{address}", kind=TargetKind.ENDPOINT, address=address,
                  carrier="test")


def _probe(mode: SocketMode, *addresses: str, settings: ProbeSettings = FAST) -> list:
    async def run() -> list:
        prober = IcmpProber(mode=mode)
        try:
            return list(await asyncio.gather(
                *(prober.probe(_target(a), settings) for a in addresses)))
        finally:
            await prober.aclose()
    return asyncio.run(run())


@pytest.fixture(params=MODES, ids=str)
def mode(request: pytest.FixtureRequest, ping_sockets_allowed: None) -> SocketMode:
    need_root()
    return SocketMode(request.param)


def test_it_measures_every_echo_to_live_hosts(mode: SocketMode, router: Router) -> None:
    for observation in _probe(mode, "127.0.0.1", "127.0.0.2", "::1", router.alive):
        figures = summarize(observation.echoes)
        assert observation.error is None
        assert (figures.sent, figures.received, figures.loss) == (3, 3, 0.0)
        assert figures.rtt_min is not None
        assert figures.rtt_max is not None
        assert 0 < figures.rtt_min <= figures.rtt_max < 0.05


def test_it_reports_a_dead_host_as_lost_by_timeout(mode: SocketMode, router: Router) -> None:
    [observation] = _probe(mode, router.blackhole)
    figures = summarize(observation.echoes)
    assert figures.all_lost
    assert [e.lost for e in observation.echoes] == ["timeout"] * 3


def test_it_says_why_a_router_refused_the_echo(mode: SocketMode, router: Router) -> None:
    unreachable, prohibited = _probe(mode, router.unreachable, router.prohibited)
    assert [e.lost for e in unreachable.echoes] == [
        "destination unreachable: host unreachable (reported by 10.123.1.2)"] * 3
    assert [e.lost for e in prohibited.echoes] == [
        "destination unreachable: administratively prohibited (reported by 10.123.1.2)"] * 3
    assert summarize(unreachable.echoes).all_lost


def test_it_never_reports_a_dead_host_alive_when_another_pinger_shares_its_id(
    router: Router,
) -> None:
    """Regression: raw sockets matched by (id, sequence) alone let one
    program's replies answer another's requests (NOTES: icmplib multiping)."""
    need_root()

    async def run() -> tuple:
        async with Pinger(mode=SocketMode.RAW) as busy, Pinger(mode=SocketMode.RAW) as quiet:
            await busy.ping("127.0.0.1", count=1, interval=0.01, timeout=0.2)
            await quiet.ping("127.0.0.1", count=1, interval=0.01, timeout=0.2)
            shared = busy._channels[2]  # AF_INET
            victim = quiet._channels[2]
            victim.ident = shared.ident
            icmpwire.attach_bpf(victim.sock, icmpwire.bpf_echo_filter_v4(shared.ident))
            return await asyncio.gather(
                quiet.ping(router.blackhole, count=5, interval=0.02, timeout=0.3),
                *(busy.ping(a, count=5, interval=0.02, timeout=0.3)
                  for a in ["127.0.0.1", "127.0.0.3", router.alive]),
            )

    dead, *alive = asyncio.run(run())
    assert summarize(dead).all_lost
    assert all(summarize(e).loss == 0.0 for e in alive)


def test_it_prefers_unprivileged_sockets_and_falls_back_to_raw(
    caplog: pytest.LogCaptureFixture, ping_sockets_allowed: None
) -> None:
    async def chosen() -> SocketMode | None:
        async with Pinger() as pinger:
            await pinger.ping("127.0.0.1", count=1, interval=0.01, timeout=0.2)
            return pinger.mode(2)

    with caplog.at_level(logging.INFO, logger="probes.pinger"):
        assert asyncio.run(chosen()) is SocketMode.UNPRIVILEGED
        Path("/proc/sys/net/ipv4/ping_group_range").write_text("1 0")
        assert asyncio.run(chosen()) is SocketMode.RAW
    assert "ICMP IPv4: unprivileged socket" in caplog.text
    assert "ICMP IPv4: raw socket" in caplog.text


def _as_nobody(code: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    return subprocess.run(
        ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups",
         sys.executable, "-c", textwrap.dedent(code)],
        capture_output=True, text=True, env=env, timeout=30, check=False,
    )


NOBODY_PROBE = """
    import asyncio
    from monitor.evaluation.figures import summarize
    from monitor.model.inventory import ProbeSettings, Target
    from monitor.model.vocabulary import TargetKind
    from probes.icmp import IcmpProber
    async def main():
        prober = IcmpProber()
        t = Target(key="endpoint:lo", kind=TargetKind.ENDPOINT, address="127.0.0.1", carrier="x")
        obs = await prober.probe(t, ProbeSettings(count=2, echo_interval=0.02, timeout=0.5))
        print(obs.error or summarize(obs.echoes).received)
    asyncio.run(main())
"""


def test_it_runs_without_root_when_ping_sockets_are_allowed(ping_sockets_allowed: None) -> None:
    result = _as_nobody(NOBODY_PROBE)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "2"


def test_it_says_plainly_how_to_allow_ping_without_root(ping_sockets_denied: None) -> None:
    result = _as_nobody(NOBODY_PROBE)
    assert result.returncode == 0, result.stderr
    assert "cannot open an ICMP IPv4 socket" in result.stdout
    assert "ping_group_range" in result.stdout


def test_it_refuses_to_build_without_any_socket_mode(ping_sockets_denied: None) -> None:
    code = """
        import asyncio
        from probes.pinger import Pinger, PingerError
        async def main():
            async with Pinger() as p:
                try:
                    await p.ping("127.0.0.1", count=1, interval=0.01, timeout=0.1)
                except PingerError as exc:
                    print("refused:", exc)
        asyncio.run(main())
    """
    result = _as_nobody(code)
    assert result.stdout.startswith("refused: cannot open an ICMP IPv4 socket")


def test_it_reports_a_name_that_does_not_resolve_without_asking_the_network(
    tmp_path: Path,
) -> None:
    """Runs in a namespace whose resolver is a closed port on its own loopback,
    so the failing lookup cannot leave the machine."""
    need_root()
    namespace = "exr-dns"
    resolv = Path("/etc/netns") / namespace / "resolv.conf"
    subprocess.run(["ip", "netns", "add", namespace], check=True)
    try:
        resolv.parent.mkdir(parents=True, exist_ok=True)
        resolv.write_text("nameserver 127.0.0.1\noptions timeout:1 attempts:1\n")
        subprocess.run(["ip", "-n", namespace, "link", "set", "lo", "up"], check=True)
        code = textwrap.dedent("""
            import asyncio
            from monitor.model.inventory import ProbeSettings, Target
            from monitor.model.vocabulary import TargetKind
            from probes.icmp import IcmpProber
            async def main():
                prober = IcmpProber(mode="raw")
                for name in ["no-such-site.examnet.invalid", "localhost"]:
                    t = Target(key="endpoint:x", kind=TargetKind.ENDPOINT, address=name,
                               carrier="x")
                    obs = await prober.probe(t, ProbeSettings(count=1, timeout=0.5))
                    print(obs.error or f"{obs.address} answered {len(obs.echoes)}")
            asyncio.run(main())
        """)
        result = subprocess.run(
            ["ip", "netns", "exec", namespace, sys.executable, "-c", code],
            capture_output=True, text=True, timeout=30, check=False,
            env={**os.environ, "PYTHONPATH": str(REPO)},
        )
    finally:
        subprocess.run(["ip", "netns", "del", namespace], check=False)
        resolv.unlink(missing_ok=True)
        resolv.parent.rmdir()
    assert result.stdout.splitlines() == [
        "cannot resolve 'no-such-site.examnet.invalid'",
        "127.0.0.1 answered 1",
    ], result.stderr


def test_it_forgets_a_cancelled_round(mode: SocketMode, router: Router) -> None:
    async def run() -> int:
        async with Pinger(mode=mode) as pinger:
            task = asyncio.ensure_future(
                pinger.ping(router.blackhole, count=5, interval=0.05, timeout=1.0))
            await asyncio.sleep(0.12)
            task.cancel()
            with pytest.raises(asyncio.CancelledError):
                await task
            await asyncio.sleep(0.3)  # the queued requests must not go out
            return pinger.stats.sent + len(pinger._channels[2].inflight)

    assert asyncio.run(run()) <= 3


def test_it_paces_requests_at_the_configured_rate(mode: SocketMode) -> None:
    async def run() -> list[float]:
        async with Pinger(mode=mode, max_rate=500) as pinger:
            rounds = await asyncio.gather(*(
                pinger.ping(f"127.0.{i // 250}.{i % 250 + 1}", count=1, interval=0.01,
                            timeout=1.0)
                for i in range(200)))
            return sorted(e.sent_at for echoes in rounds for e in echoes if e.sent_at)

    sent = asyncio.run(run())
    assert len(sent) == 200
    # 200 requests at 500/s cannot leave in much less than 0.4 s (burst: 5)
    assert sent[-1] - sent[0] >= 0.35


def test_it_sends_nothing_elsewhere_when_its_bound_interface_vanishes(
    mode: SocketMode,
) -> None:
    """Regression (CI): a lab torn down mid-run must not turn its addresses'
    echoes towards the default route; bound sockets fail instead, and work
    again once the interface is back (a rebuilt lab has a new ifindex)."""
    namespace, outside, inside = "exr-bind", "exr-c", "exr-d"

    def ip(*args: str) -> None:
        subprocess.run(["ip", *args], check=True, capture_output=True)

    def build() -> None:
        ip("link", "add", outside, "type", "veth", "peer", "name", inside, "netns", namespace)
        ip("addr", "add", "10.124.0.1/30", "dev", outside)
        ip("link", "set", outside, "up")
        ip("-n", namespace, "addr", "add", "10.124.0.2/30", "dev", inside)
        ip("-n", namespace, "link", "set", inside, "up")
        wait_operational((outside, None), (inside, namespace))

    async def one(pinger: Pinger) -> list:
        return list(await pinger.ping("10.124.0.2", count=1, interval=0.01, timeout=0.5))

    async def run() -> tuple:
        async with Pinger(mode=mode, bind_device=outside) as pinger:
            before = await one(pinger)
            ip("link", "del", outside)
            gone = await one(pinger)
            build()
            back = await one(pinger)
            return before, gone, back

    subprocess.run(["ip", "netns", "add", namespace], check=True)
    try:
        build()
        before, gone, back = asyncio.run(run())
    finally:
        subprocess.run(["ip", "link", "del", outside], capture_output=True, check=False)
        subprocess.run(["ip", "netns", "del", namespace], check=False)
    assert before[0].rtt is not None
    assert gone[0].lost == "not sent: No such device"
    assert back[0].rtt is not None
