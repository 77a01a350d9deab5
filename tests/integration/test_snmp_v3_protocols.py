"""Every SNMPv3 security level and protocol sites.toml accepts, against net-snmp.

One real snmpd with a user per combination: each auth protocol alone
(authNoPriv), each auth protocol with each privacy protocol (authPriv), and
a user with neither (noAuthNoPriv). Every one must answer a poll.

AES-192/256 keys longer than the auth hash are extended (key localisation;
RFC 3826 covers AES-128 only): examnet's `aes192`/`aes256` extend them as
net-snmp's AES-192/AES-256 do (draft-blumenthal-aes-usm-04). Cisco's
variant (draft-reeder-snmpv3-usm-3desede, net-snmp's AES-192-C/AES-256-C)
gives other keys whenever there is something to extend; the last test pins
where the two agree, as docs/sites-toml.md says.
"""

from __future__ import annotations

import asyncio
import itertools
from pathlib import Path

from monitor.model.vocabulary import AuthProtocol, PrivProtocol
from probes.snmp import SnmpProber
from probes.snmp_failures import NO_ANSWER_V3
from probes.snmpdata import SnmpObservation
from tests.fixtures.environment import need_programs
from tests.fixtures.snmpd import SnmpAgent, V3User

EVERY_USER = (
    V3User("u-none"),
    *(V3User(f"u-{a.value}-{p.value if p else 'nopriv'}", a, p)
      for a, p in itertools.product(AuthProtocol, (None, *PrivProtocol))),
)  # fmt: skip
HASH_OCTETS = {
    AuthProtocol.MD5: 16, AuthProtocol.SHA: 20, AuthProtocol.SHA224: 28,
    AuthProtocol.SHA256: 32, AuthProtocol.SHA384: 48, AuthProtocol.SHA512: 64,
}  # fmt: skip
KEY_OCTETS = {PrivProtocol.AES192: 24, PrivProtocol.AES256: 32}
CISCO = {PrivProtocol.AES192: "AES-192-C", PrivProtocol.AES256: "AES-256-C"}


def poll_users(directory: Path, users: tuple[V3User, ...]) -> dict[str, str | None]:
    """One poll of each user on a fresh snmpd that has them all: user -> error."""
    need_programs("snmpd", "snmpget")
    agent = SnmpAgent(directory, users=users)

    async def work() -> list[SnmpObservation]:
        devices = [agent.device(u.credentials(), device_id=u.name) for u in users]
        prober = SnmpProber()
        try:
            return list(await asyncio.gather(*(prober.probe(d) for d in devices)))
        finally:
            await prober.aclose()

    agent.start()
    try:
        observations = asyncio.run(work())
    finally:
        agent.stop()
    assert all(o.sys_uptime for o in observations if o.error is None)
    return {o.device.rsplit("/", 1)[1]: o.error for o in observations}


def test_it_polls_net_snmp_at_every_security_level_with_every_protocol(tmp_path: Path) -> None:
    assert len(EVERY_USER) == 1 + 6 * 5
    assert poll_users(tmp_path / "snmpd", EVERY_USER) == {u.name: None for u in EVERY_USER}


def test_it_agrees_with_cisco_style_aes_keys_only_where_none_is_extended(tmp_path: Path) -> None:
    users = tuple(
        V3User(f"c-{a.value}-{p.value}", a, p, agent_priv=CISCO[p])
        for a, p in itertools.product(AuthProtocol, CISCO)
    )
    answered = poll_users(tmp_path / "snmpd", users)
    assert answered == {u.name: None if _agree(u) else NO_ANSWER_V3 for u in users}


def _agree(user: V3User) -> bool:
    """No key extension: the auth hash gives at least the AES key's octets."""
    assert user.auth is not None
    assert user.priv is not None
    return HASH_OCTETS[user.auth] >= KEY_OCTETS[user.priv]
