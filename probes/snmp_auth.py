"""A device's credentials as pysnmp auth data; every secret handed out is remembered.

pysnmp keeps one USM "template" row per v3 user name and localises its keys
for each agent it meets (RFC 3414 2.6). Two devices with the same user name
but different keys would overwrite that row in turn, and a device met while
the other's keys sat in it would keep the wrong keys for good (seen here:
every poll of one of them failing with WrongDigest). So the first key set
seen for a user name uses the template; any other key set for that name is
bound to its agent's snmpEngineID, learnt first by a discovery request, in
a row of its own.
"""

from __future__ import annotations

from typing import Any

from pysnmp.hlapi.v3arch.asyncio import auth

from monitor.model.inventory import SnmpV2c, SnmpV3
from monitor.model.vocabulary import AuthProtocol, PrivProtocol

# The user of the discovery request: unknown to agents on purpose, so it
# reads nothing; its first exchange (RFC 3414 4) tells the agent's engine ID.
DISCOVERY_USER = "examnet-discovery"

AUTH_PROTOCOLS = {
    AuthProtocol.MD5: auth.USM_AUTH_HMAC96_MD5,
    AuthProtocol.SHA: auth.USM_AUTH_HMAC96_SHA,
    AuthProtocol.SHA224: auth.USM_AUTH_HMAC128_SHA224,
    AuthProtocol.SHA256: auth.USM_AUTH_HMAC192_SHA256,
    AuthProtocol.SHA384: auth.USM_AUTH_HMAC256_SHA384,
    AuthProtocol.SHA512: auth.USM_AUTH_HMAC384_SHA512,
}
# AES-192/256 key extension: Blumenthal's draft, as net-snmp does it
# (`snmpget -x AES-256`); Cisco's (Reeder) variant is another protocol.
PRIV_PROTOCOLS = {
    PrivProtocol.DES: auth.USM_PRIV_CBC56_DES,
    PrivProtocol.AES: auth.USM_PRIV_CFB128_AES,
    PrivProtocol.AES192: auth.USM_PRIV_CFB192_AES_BLUMENTHAL,
    PrivProtocol.AES256: auth.USM_PRIV_CFB256_AES_BLUMENTHAL,
}


class Credentials:
    """Makes CommunityData / UsmUserData / v2c communities; `revealed` holds every secret
    given out."""

    def __init__(self) -> None:
        self.revealed: set[str] = set()
        self._communities: dict[str, str] = {}
        self._templates: dict[str, SnmpV3] = {}  # user name -> the key set owning its row

    def community(self, v2c: SnmpV2c) -> Any:
        community = self._reveal(v2c.community.reveal())
        # our own row index: pysnmp's default is made from a hash of the community
        index = self._communities.setdefault(community, f"examnet-c{len(self._communities)}")
        return auth.CommunityData(index, community)

    def community_octets(self, v2c: SnmpV2c) -> bytes:
        """The community as it goes on the wire, for the v2c channel: ISO 8859-1 like
        pysnmp (pyasn1's OctetString), UTF-8 for what that cannot encode."""
        community = self._reveal(v2c.community.reveal())
        try:
            return community.encode("iso-8859-1")
        except UnicodeEncodeError:
            return community.encode()

    def needs_engine_id(self, v3: SnmpV3) -> bool:
        """Whether this key set must be bound to its agent (another one owns the user name)."""
        return self._templates.setdefault(v3.user, v3) != v3

    def usm(self, v3: SnmpV3, engine_id: bytes | None = None) -> Any:
        options: dict[str, Any] = {}
        if v3.auth_protocol is not None and v3.auth_key is not None:
            options["authKey"] = self._reveal(v3.auth_key.reveal())
            options["authProtocol"] = AUTH_PROTOCOLS[v3.auth_protocol]
            if v3.priv_protocol is not None and v3.priv_key is not None:
                options["privKey"] = self._reveal(v3.priv_key.reveal())
                options["privProtocol"] = PRIV_PROTOCOLS[v3.priv_protocol]
        if engine_id is not None:
            # a row of its own: pysnmp indexes users by (engine ID, security name), and
            # its lookups need the security name to be the user name
            options["securityEngineId"] = engine_id
        # noAuthNoPriv and authNoPriv are the device's choice, made in sites.toml
        return auth.UsmUserData(v3.user, **options)  # noqa: S509

    @staticmethod
    def discovery() -> Any:
        return auth.UsmUserData(DISCOVERY_USER)  # noqa: S509  it reads nothing

    def _reveal(self, secret: str) -> str:
        if secret:
            self.revealed.add(secret)
        return secret
