"""What one lab agent (a net-snmp snmpd) is told: its snmpd.conf and its files. Pure.

An agent serves the devices of one namespace at one address (see
`topology.AgentPlan`). Its configuration holds the devices' secrets, so it is
written only into the agent's private directory (0700, the file 0600), and
nothing here logs or returns a secret anywhere else. Messages name the
device and the field, never the value.

- v2c: `rocommunity COMMUNITY MONITOR/30`: only the monitor's transit address
  may use it, so a poller elsewhere (or with another community) hears
  nothing, as with a real router's ACL.
- v3: `createUser USER AUTH "key" PRIV "key"` and `rouser USER priv|auth|noauth`
  (net-snmp 5.9 tokens: MD5, SHA, SHA-224 ... SHA-512; DES, AES, AES-192,
  AES-256; the 192/256-bit AES key extension is Blumenthal's draft, as in
  `snmpget -x AES-256`).
- A UPS is simulated by `ups_agent.py` under UPS-MIB (1.3.6.1.2.1.33); a
  custom OID under the enterprises arc (1.3.6.1.4.1) by the same script, as
  an exact OID; other custom OIDs are left to snmpd's own MIBs.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from ipaddress import IPv4Network
from pathlib import Path
from typing import Any

from examlab.errors import LabError
from examlab.topology import AgentPlan
from examlab.ups_agent import FULL_MINUTES, UPS_MIB
from monitor.model.inventory import CustomOid, Device, SnmpV2c, SnmpV3
from monitor.model.vocabulary import AuthProtocol, PrivProtocol

UPS_AGENT_SCRIPT = Path(__file__).with_name("ups_agent.py")
ENTERPRISES = "1.3.6.1.4.1"

AUTH_TOKENS = {
    AuthProtocol.MD5: "MD5",
    AuthProtocol.SHA: "SHA",
    AuthProtocol.SHA224: "SHA-224",
    AuthProtocol.SHA256: "SHA-256",
    AuthProtocol.SHA384: "SHA-384",
    AuthProtocol.SHA512: "SHA-512",
}
PRIV_TOKENS = {
    PrivProtocol.DES: "DES",
    PrivProtocol.AES: "AES",
    PrivProtocol.AES192: "AES-192",
    PrivProtocol.AES256: "AES-256",
}
# a token snmpd.conf reads back whole: no blanks, quotes, escapes or comments
_SAFE_TOKEN = re.compile(r"[^\s\"'\\#]+")
_SAFE_PATH = re.compile(r"[^\s\"'\\#]+")


class AgentConfigError(LabError):
    """A device's settings cannot be written into an snmpd.conf."""


@dataclass(frozen=True, slots=True)
class AgentFiles:
    """Where one agent keeps its files: all under one private directory."""

    directory: Path

    @property
    def conf(self) -> Path:
        return self.directory / "snmpd.conf"

    @property
    def persistent(self) -> Path:
        """SNMP_PERSISTENT_DIR: engine id and boots, localized v3 keys."""
        return self.directory / "persist"

    @property
    def persistent_conf(self) -> Path:
        """What snmpd saves at exit (engine boots and id) and reads back at start."""
        return self.persistent / "snmpd.conf"

    @property
    def log(self) -> Path:
        return self.directory / "snmpd.log"

    @property
    def pidfile(self) -> Path:
        return self.directory / "snmpd.pid"

    def device_state(self, device_id: str) -> Path:
        """The JSON the simulated UPS or custom OIDs of one device are read from."""
        return self.directory / f"{device_id}.json"


def agent_files(directory: Path, agent: AgentPlan) -> AgentFiles:
    return AgentFiles(directory / agent.name)


def simulated_oids(device: Device) -> tuple[CustomOid, ...]:
    """The custom OIDs the lab answers itself: those under the enterprises arc."""
    return tuple(o for o in device.oids if _under(o.oid, ENTERPRISES))


def _under(oid: str, subtree: str) -> bool:
    dotted = oid.lstrip(".")
    return dotted == subtree or dotted.startswith(subtree + ".")


def initial_value(oid: CustomOid) -> int:
    """Half the warning threshold: a healthy figure to start from."""
    return int(oid.warn / 2) if oid.warn is not None else 0


def initial_state(device: Device) -> dict[str, Any] | None:
    """The state file of a device the lab simulates something for (None: nothing)."""
    values = {o.oid.lstrip("."): initial_value(o) for o in simulated_oids(device)}
    if not device.ups and not values:
        return None
    state: dict[str, Any] = {"values": values}
    if device.ups:
        state["ups"] = {"on_battery_since": None, "minutes_at_switch": FULL_MINUTES}
    return state


def listen_spec(agent: AgentPlan) -> str:
    """snmpd's listening address argument: `udp:ADDR:PORT[,udp:ADDR:PORT]`."""
    return ",".join(f"udp:{agent.address}:{port}" for port in agent.ports)


def _token(device: Device, field: str, value: str) -> str:
    if not _SAFE_TOKEN.fullmatch(value):
        raise AgentConfigError(
            f"device {device.owner}/{device.id}: {field} is empty or holds blanks, quotes, "
            "backslashes or #, which the lab's snmpd.conf cannot carry (the value is not shown)"
        )
    return value


def _path(path: Path) -> str:
    text = str(path)
    if not _SAFE_PATH.fullmatch(text):
        raise AgentConfigError(f"{text!r}: snmpd's pass_persist cannot run a path with blanks")
    return text


def v2c_lines(device: Device, credentials: SnmpV2c, monitor: IPv4Network) -> list[str]:
    community = _token(device, "community", credentials.community.reveal())
    return [f"rocommunity {community} {monitor}"]


def v3_lines(device: Device, v3: SnmpV3) -> list[str]:
    user = _token(device, "user", v3.user)
    if v3.auth_protocol is None or v3.auth_key is None:
        return [f"createUser {user}", f"rouser {user} noauth"]
    auth = f'{AUTH_TOKENS[v3.auth_protocol]} "{_token(device, "auth_key", v3.auth_key.reveal())}"'
    if v3.priv_protocol is None or v3.priv_key is None:
        return [f"createUser {user} {auth}", f"rouser {user} auth"]
    priv_key = _token(device, "priv_key", v3.priv_key.reveal())
    priv = f'{PRIV_TOKENS[v3.priv_protocol]} "{priv_key}"'
    return [f"createUser {user} {auth} {priv}", f"rouser {user} priv"]


def credential_lines(device: Device, monitor: IPv4Network) -> list[str]:
    if isinstance(device.credentials, SnmpV2c):
        return v2c_lines(device, device.credentials, monitor)
    return v3_lines(device, device.credentials)


def simulation_lines(device: Device, files: AgentFiles, python: str) -> list[str]:
    """`pass_persist` lines: the UPS-MIB subtree and each simulated OID of the device."""
    subtrees = ([UPS_MIB] if device.ups else []) + [
        o.oid.lstrip(".") for o in simulated_oids(device)
    ]
    command = f"{_path(Path(python))} {_path(UPS_AGENT_SCRIPT)}"
    state = _path(files.device_state(device.id))
    return [f"pass_persist .{tree} {command} {state} .{tree}" for tree in subtrees]


def snmpd_conf(
    agent: AgentPlan,
    devices: Sequence[Device],
    monitor: IPv4Network,
    files: AgentFiles,
    python: str,
) -> str:
    """The whole snmpd.conf of one agent (it holds secrets: write it 0600)."""
    names = [f"{d.owner}/{d.id}" for d in devices]
    lines = [
        f"# examnet lab agent {agent.name}: generated at `lab up`, removed at `lab down`",
        f"sysName {names[0]}",
        f"sysDescr examnet lab agent for {', '.join(names)}",
        f"sysLocation examnet lab, {agent.role.value} {agent.owner}",
        "sysContact examnet lab",
        "dontLogTCPWrappersConnects yes",  # no line per request in the log
    ]
    for device in devices:
        lines += credential_lines(device, monitor)  # devices sharing credentials repeat them
        lines += simulation_lines(device, files, python)
    return "\n".join(dict.fromkeys(lines)) + "\n"
