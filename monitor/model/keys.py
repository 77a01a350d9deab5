"""Stable keys of what examnet judges: the one place that builds and parses them.

A key names a subject across reloads, in storage, metrics, alerts and the
API: `link:SITE/LINK`, `endpoint:ID`, `device:OWNER/ID` (OWNER: the site or
carrier endpoint the device belongs to) and `control:ADDRESS` (examnet's
own network). Nothing else writes these prefixes by hand.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

LINK: Final = "link"
ENDPOINT: Final = "endpoint"
DEVICE: Final = "device"
CONTROL: Final = "control"


def link_key(site: str, link: str) -> str:
    """The key of a link's target: `link:SITE/LINK`."""
    return f"{LINK}:{site}/{link}"


def endpoint_key(endpoint: str) -> str:
    """The key of a carrier endpoint's target: `endpoint:ID`."""
    return f"{ENDPOINT}:{endpoint}"


def device_key(owner: str, device: str) -> str:
    """The key of a polled device: `device:OWNER/ID` (OWNER: its site or endpoint)."""
    return f"{DEVICE}:{owner}/{device}"


def control_key(address: str) -> str:
    """The key of a `[monitor] control` target: `control:ADDRESS`."""
    return f"{CONTROL}:{address}"


@dataclass(frozen=True, slots=True)
class Key:
    """A key taken apart: its kind (the prefix) and its parts after it.

    `owner` is the site of a link or the owner of a device, empty otherwise;
    `ident` the link, endpoint or device id, or the control address.
    """

    kind: str
    owner: str
    ident: str


def parse_key(key: str) -> Key | None:
    """`link:s/l` -> Key("link", "s", "l"); None for anything that is not a key
    (a site id, `examnet`)."""
    prefix, sep, rest = key.partition(":")
    if not sep:
        return None
    if prefix in (LINK, DEVICE):
        owner, _, ident = rest.partition("/")
        return Key(prefix, owner, ident)
    if prefix in (ENDPOINT, CONTROL):
        return Key(prefix, "", rest)
    return None


def strip_kind(key: str) -> str:
    """A key without its prefix: `link:s/l` -> `s/l` (the key as sites.toml says it)."""
    return key.partition(":")[2]
