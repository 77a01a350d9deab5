"""The one list of probe kinds: the scheduler, the lab guard and the runtime iterate it.

A new kind (HTTP, DNS, TLS) is one module beside `icmp` and `snmp` declaring
its `ProbeKind`, and one line here.
"""

from __future__ import annotations

from typing import Final

from monitor.probing.icmp import ICMP
from monitor.probing.kind import AnyKind
from monitor.probing.snmp import SNMP

PROBES: Final[tuple[AnyKind, ...]] = (ICMP, SNMP)
