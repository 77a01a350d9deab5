"""A bounded UDP flood for `examnet lab load` (stdlib only).

Run inside a lab namespace (`ip netns exec NS python -m examlab.flood ...`)
to fill a rate-limited link so that pings queue behind it. It refuses to send
unless the destination lies inside the lab network, that network is private,
and the namespace it runs in has no default route (so nothing can leave the
lab, whatever the arguments). It stops after `--seconds` (at most 600) or a
packet cap, whichever comes first.
"""

from __future__ import annotations

import argparse
import re
import socket
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from ipaddress import IPv4Address, IPv4Network
from pathlib import Path

MAX_SECONDS = 600.0
MAX_PACKETS = 1_000_000
MAX_RATE_BPS = 100_000_000  # well above anything a lab link is shaped to
MIN_RATE_BPS = 8_000
DEFAULT_RATE = "10mbit"
DEFAULT_PAYLOAD = 1200
MIN_PAYLOAD = 16
MAX_PAYLOAD = 1472  # one unfragmented datagram on a 1500-byte veth
DISCARD_PORT = 9  # RFC 863: nobody listens there in the lab; the site answers port unreachable
HEADERS = 8 + 20 + 14  # UDP + IPv4 + Ethernet: what a shaper counts on the wire
TICK = 0.005
PROC_ROUTE = Path("/proc/net/route")

_RATE = re.compile(r"(\d+(?:\.\d+)?)\s*(bit|kbit|mbit|gbit)?", re.IGNORECASE)
_RATE_UNITS = {"bit": 1, "kbit": 1_000, "mbit": 1_000_000, "gbit": 1_000_000_000}


class FloodRefusedError(ValueError):
    """The flood's arguments or its namespace are not safe to send from."""


def parse_rate(text: str) -> int:
    """'256kbit' -> 256000 bits per second (tc's units: bit, kbit, mbit, gbit; SI)."""
    match = _RATE.fullmatch(text.strip())
    if match is None:
        raise ValueError(f"rate {text!r}: expected a number with bit, kbit, mbit or gbit")
    value = float(match.group(1)) * _RATE_UNITS[(match.group(2) or "bit").lower()]
    if not MIN_RATE_BPS <= value <= MAX_RATE_BPS:
        raise ValueError(f"rate {text!r}: expected between 8kbit and 100mbit")
    return int(value)


@dataclass(frozen=True, slots=True)
class FloodSpec:
    destination: IPv4Address
    network: IPv4Network
    source: IPv4Address | None
    seconds: float
    rate_bps: int
    payload: int = DEFAULT_PAYLOAD
    max_packets: int = MAX_PACKETS
    port: int = DISCARD_PORT

    @property
    def packet_interval(self) -> float:
        return (self.payload + HEADERS) * 8 / self.rate_bps

    @property
    def packet_cap(self) -> int:
        """No more than the rate allows over the duration (plus one tick), and the hard cap."""
        planned = int((self.seconds + TICK) / self.packet_interval) + 1
        return min(planned, self.max_packets, MAX_PACKETS)


@dataclass(frozen=True, slots=True)
class FloodResult:
    sent: int
    errors: int
    seconds: float


def has_default_route(proc_route: Path = PROC_ROUTE) -> bool:
    """Whether this network namespace's main table has a way out (0.0.0.0/0)."""
    for line in proc_route.read_text().splitlines()[1:]:
        fields = line.split()
        if len(fields) >= 8 and int(fields[1], 16) == 0 and int(fields[7], 16) == 0:
            return True
    return False


def check(spec: FloodSpec, proc_route: Path = PROC_ROUTE) -> None:
    """Refuse anything that could send a packet outside the lab."""
    if not spec.network.is_private:
        raise FloodRefusedError(f"{spec.network} is not a private range")
    if spec.destination not in spec.network:
        raise FloodRefusedError(f"{spec.destination} is outside the lab network {spec.network}")
    if not 0 < spec.seconds <= MAX_SECONDS:
        raise FloodRefusedError(f"--seconds {spec.seconds}: expected more than 0, at most 600")
    if not 0 < spec.max_packets <= MAX_PACKETS:
        raise FloodRefusedError(f"--max-packets {spec.max_packets}: at most {MAX_PACKETS}")
    if not MIN_PAYLOAD <= spec.payload <= MAX_PAYLOAD:
        raise FloodRefusedError(f"--payload {spec.payload}: expected {MIN_PAYLOAD}-{MAX_PAYLOAD}")
    if has_default_route(proc_route):
        raise FloodRefusedError(
            "this network namespace has a default route: run the flood inside a lab namespace"
        )


def run(
    spec: FloodSpec,
    sock: socket.socket,
    clock: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], None] = time.sleep,
) -> FloodResult:
    """Send paced datagrams until the time or the packet cap runs out."""
    payload = (b"examnet-lab-flood " * (spec.payload // 18 + 1))[: spec.payload]
    target = (str(spec.destination), spec.port)
    cap = spec.packet_cap
    start = clock()
    deadline = start + spec.seconds
    sent = errors = 0
    while sent < cap and (now := clock()) < deadline:
        due = min(cap, int((now - start) / spec.packet_interval) + 1)
        while sent < due:
            sent += 1
            try:
                sock.sendto(payload, target)
            except OSError:  # ENOBUFS from a full queue, EHOSTUNREACH from a downed link
                errors += 1
        sleep(min(TICK, max(0.0, deadline - clock())))
    return FloodResult(sent, errors, clock() - start)


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m examlab.flood", description=__doc__)
    p.add_argument("--destination", type=IPv4Address, required=True)
    p.add_argument("--network", type=IPv4Network, required=True)
    p.add_argument("--source", type=IPv4Address, default=None)
    p.add_argument("--seconds", type=float, required=True)
    p.add_argument("--rate", type=parse_rate, default=parse_rate(DEFAULT_RATE))
    p.add_argument("--payload", type=int, default=DEFAULT_PAYLOAD)
    p.add_argument("--max-packets", type=int, default=MAX_PACKETS)
    return p


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    spec = FloodSpec(
        args.destination,
        args.network,
        args.source,
        args.seconds,
        args.rate,
        args.payload,
        args.max_packets,
    )
    try:
        check(spec)
    except FloodRefusedError as exc:
        print(f"flood refused: {exc}", file=sys.stderr)
        return 2
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        if spec.source is not None:
            sock.bind((str(spec.source), 0))
        result = run(spec, sock)
    print(
        f"flood to {spec.destination}: {result.sent} datagrams, {result.errors} send errors, "
        f"{result.seconds:.1f} s at {spec.rate_bps} bit/s",
        flush=True,
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
