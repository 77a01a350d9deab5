"""`[[sites.devices]]` and `[[endpoints.devices]]`: SNMP devices, credentials, interfaces, OIDs."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Final

from monitor.config.problems import seconds_text
from monitor.config.reader import Context, Reader, claim, item_name
from monitor.config.values import (
    any_number,
    boolean,
    capacity,
    choice,
    duration,
    identifier,
    integer,
    member,
    nonempty_text,
    oid,
    text,
)
from monitor.model.inventory import (
    DEFAULT_SNMP_PORT,
    DEFAULT_SNMP_RETRIES,
    DEFAULT_SNMP_TIMEOUT,
    CustomOid,
    Device,
    InterfaceRef,
    SnmpSettings,
    SnmpV2c,
    SnmpV3,
    WatchedInterface,
)
from monitor.model.secrets import Secret, WithheldSecret
from monitor.model.vocabulary import AuthProtocol, PrivProtocol

SNMP_VERSIONS: Final = ("2c", "3")
# RFC 3414 §11.2: a USM password shorter than 8 octets must be refused.
MIN_SNMP_KEY_LENGTH: Final = 8


def check_key_length(r: Reader, key: str, value: Secret | None) -> None:
    if isinstance(value, WithheldSecret) or value is None:
        return
    if len(value.reveal()) < MIN_SNMP_KEY_LENGTH:
        r.problem(
            key,
            f"is shorter than {MIN_SNMP_KEY_LENGTH} characters, the minimum of RFC 3414 "
            "(the key is not shown)",
        )


def check_together(r: Reader, first: str, second: str) -> None:
    if r.has(first) and not r.has(second):
        r.problem(second, f"is required when {first} is set")
    elif r.has(second) and not r.has(first):
        r.problem(first, f"is required when {second} is set")


def read_v3(s: Reader) -> SnmpV3 | None:
    user = s.get("user", nonempty_text, required=True)
    auth_protocol = s.get("auth_protocol", member(AuthProtocol))
    auth_key = s.secret("auth_key")
    priv_protocol = s.get("priv_protocol", member(PrivProtocol))
    priv_key = s.secret("priv_key")
    check_together(s, "auth_protocol", "auth_key")
    check_together(s, "priv_protocol", "priv_key")
    if s.has("priv_protocol") and not (s.has("auth_protocol") or s.has("auth_key")):
        # USM has authNoPriv and authPriv, but no noAuthPriv (RFC 3414 §3.1.1)
        s.problem("priv_protocol", "privacy needs authentication: set auth_protocol and auth_key")
    check_key_length(s, "auth_key", auth_key)
    check_key_length(s, "priv_key", priv_key)
    if user is None:
        return None
    return SnmpV3(user, auth_protocol, auth_key, priv_protocol, priv_key)


def read_snmp(r: Reader) -> SnmpV2c | SnmpV3 | None:
    s = r.sub("snmp", required=True)
    if s is None:
        return None
    version = s.get("version", choice(SNMP_VERSIONS), required=True)
    credentials: SnmpV2c | SnmpV3 | None = None
    if version == "2c":
        community = s.secret("community", required=True)
        credentials = None if community is None else SnmpV2c(community)
    elif version == "3":
        credentials = read_v3(s)
    else:
        return None  # which other keys belong here depends on the version
    s.done()
    return credentials


def read_watched(r: Reader) -> tuple[WatchedInterface, ...]:
    watched: list[WatchedInterface] = []
    for index, table in r.tables("interfaces"):
        w = Reader(r.ctx, table, r.item, f"interfaces[{index}]")
        name = w.get("name", nonempty_text)
        number_ = w.get("index", integer(1))
        bps = w.get("capacity", capacity)
        w.done()
        if w.has("name") == w.has("index"):
            w.problem(None, 'expected exactly one of "name" or "index"')
        watched.append(WatchedInterface(name=name, index=number_, capacity_bps=bps))
    return tuple(watched)


def read_oids(r: Reader) -> tuple[CustomOid, ...]:
    oids: list[CustomOid] = []
    names: dict[str, str] = {}
    for index, table in r.tables("oids"):
        where = f"oids[{index}]"
        o = Reader(r.ctx, table, r.item, where)
        name = o.get("name", nonempty_text, required=True)
        dotted = o.get("oid", oid, required=True)
        unit = o.opt("unit", text, "")
        warn = o.get("warn", any_number)
        crit = o.get("crit", any_number)
        o.done()
        if name is None or dotted is None or not claim(o, names, name, where, key="name"):
            continue
        oids.append(CustomOid(name=name, oid=dotted, unit=unit, warn=warn, crit=crit))
    return tuple(oids)


@dataclass(frozen=True, slots=True)
class Owner:
    """Whose devices these are: a site or a carrier endpoint (None: its id is unusable)."""

    id: str | None
    endpoint: bool = False


def read_device(r: Reader, owner: Owner) -> Device | None:
    ident = r.get("id", identifier, required=True)
    addr = r.address("address", target=False)
    port = r.opt("port", integer(1, 65535), DEFAULT_SNMP_PORT)
    timeout = r.opt("timeout", duration(), DEFAULT_SNMP_TIMEOUT)
    retries = r.opt("retries", integer(0, 5), DEFAULT_SNMP_RETRIES)
    credentials = read_snmp(r)
    interfaces = read_watched(r)
    ups = r.opt("ups", boolean, False)
    oids = read_oids(r)
    # checked against the site's links once they are read (monitor.config.sites)
    via = None if owner.endpoint else r.get("via", identifier)
    r.done()
    if ident is None or addr is None or credentials is None:
        return None
    return Device(
        id=ident,
        address=addr,
        port=port,
        credentials=credentials,
        interfaces=interfaces,
        ups=ups,
        oids=oids,
        timeout=timeout,
        retries=retries,
        site=None if owner.endpoint else owner.id,
        endpoint=owner.id if owner.endpoint else None,
        parent=via,  # the bare link id until the site resolves it
    )


def read_devices(parent: Reader, owner: Owner) -> tuple[list[Device], set[str]]:
    """The devices of a site or endpoint, and every id declared (even with problems)."""
    devices: list[Device] = []
    taken: dict[str, str] = {}
    for index, table in parent.tables("devices"):
        where = f"devices[{index}]"
        r = Reader(parent.ctx, table, f"{parent.item} {item_name('device', table, where)}")
        device = read_device(r, owner)
        ident = table.get("id")
        if isinstance(ident, str) and claim(r, taken, ident, where) and device is not None:
            devices.append(device)
    return devices, set(taken)


def watched_text(device: Device) -> str:
    shown = [f'"{w.name}"' if w.name is not None else f"index {w.index}" for w in device.interfaces]
    return ", ".join(shown) or "none"


def check_watched(r: Reader, ref: InterfaceRef, device: Device) -> None:
    """A link's interface joins ping and SNMP figures, so its device must poll it."""
    for w in device.interfaces:
        if (ref.name is not None and w.name == ref.name) or (
            ref.index is not None and w.index == ref.index
        ):
            return
    key, wanted = ("name", f'"{ref.name}"') if ref.name is not None else ("index", ref.index)
    r.problem(
        key,
        f'device "{device.id}" does not watch interface {wanted} (watched: {watched_text(device)})',
    )


def device_item(device: Device) -> str:
    """How problems name a device: `site "x" device "y"`, `endpoint "x" device "y"`."""
    kind = "endpoint" if device.endpoint is not None else "site"
    return f'{kind} "{device.owner}" device "{device.id}"'


def check_poll_budgets(ctx: Context, devices: Iterable[Device], snmp: SnmpSettings) -> None:
    """A device that does not answer must give up before its next poll is due."""
    every = snmp.session_interval
    for d in devices:
        if d.poll_budget >= every:
            ctx.add(
                device_item(d),
                "timeout",
                f"an unanswered request takes up to {seconds_text(d.poll_budget)} (timeout "
                f"{seconds_text(d.timeout)} x (retries {d.retries} + 1)), expected less than "
                f"snmp.session_interval ({seconds_text(every)})",
            )
