"""The qdiscs of `lab impair TARGET rate RATE [--protect-snmp] [--protect-ping]`. Pure.

Without protection, a token bucket (tbf) on the port's egress: everything
queues behind a flood, pings included (RTT rises, as on a congested
uplink), and so do SNMP polls, which then time out (NOTES: "polling through
a saturated uplink times out").

With protection, an htb tree of the same total rate: class 1:10 takes the
protected traffic (u32 on the IPv4 protocol and UDP port: SNMP is UDP 161
either way, ping is ICMP) with priority and a guaranteed share; class 1:20,
the default, takes the rest into a byte FIFO as deep as tbf's latency, so
a flood still fills the link while polls (and, if asked, pings) pass it.
"""

from __future__ import annotations

from collections.abc import Sequence

TBF_LATENCY = "300ms"
TBF_LATENCY_SECONDS = 0.3
MIN_BURST_BYTES = 2000  # 16 kbit: more than one full frame, which tbf needs to pass anything
BURST_SECONDS = 0.01  # at high rates the bucket must hold ~a timer tick's worth
MANAGEMENT_SHARE = 4  # the protected class is guaranteed a quarter of the rate
MIN_MANAGEMENT_BPS = 8_000
QUANTUM = "1514"  # one full frame per round: htb's default (rate / r2q) warns at low rates

# u32 matches (after `tc filter add dev D parent 1: protocol ip prio 1 u32`)
_UDP = ["match", "ip", "protocol", "17", "0xff"]
PROTECTED: dict[str, tuple[tuple[str, ...], ...]] = {
    "snmp": (
        (*_UDP, "match", "ip", "sport", "161", "0xffff"),  # replies from an agent
        (*_UDP, "match", "ip", "dport", "161", "0xffff"),  # requests to it
    ),
    "ping": (("match", "ip", "protocol", "1", "0xff"),),  # ICMP, both ways
}


def burst_bytes(rate_bps: int) -> int:
    return max(MIN_BURST_BYTES, int(rate_bps / 8 * BURST_SECONDS))


def tbf_args(rate_bps: int) -> list[str]:
    """After `tc qdisc replace dev D root`: everything queues."""
    burst = burst_bytes(rate_bps)
    return ["tbf", "rate", f"{rate_bps}bit", "burst", str(burst), "latency", TBF_LATENCY]


def htb_lines(device: str, rate_bps: int, protect: Sequence[str]) -> list[str]:
    """`tc -batch` lines building the protected tree on a port (its old root removed first)."""
    rate = f"{rate_bps}bit"
    share = max(MIN_MANAGEMENT_BPS, rate_bps // MANAGEMENT_SHARE)
    bulk = max(MIN_MANAGEMENT_BPS, rate_bps - share)
    fifo = max(2 * MIN_BURST_BYTES, int(rate_bps / 8 * TBF_LATENCY_SECONDS))
    dev = f"dev {device}"
    lines = [
        f"qdisc add {dev} root handle 1: htb default 20",
        f"class add {dev} parent 1: classid 1:1 htb rate {rate} ceil {rate}",
        f"class add {dev} parent 1:1 classid 1:10 htb rate {share}bit ceil {rate} prio 0 "
        f"quantum {QUANTUM}",
        f"class add {dev} parent 1:1 classid 1:20 htb rate {bulk}bit ceil {rate} prio 1 "
        f"quantum {QUANTUM}",
        f"qdisc add {dev} parent 1:20 handle 20: bfifo limit {fifo}",
    ]
    for kind in protect:
        lines += [
            f"filter add {dev} parent 1: protocol ip prio 1 u32 {' '.join(m)} flowid 1:10"
            for m in PROTECTED[kind]
        ]
    return lines
