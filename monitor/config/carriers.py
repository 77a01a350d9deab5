"""`[[carriers]]` and `[[endpoints]]` (with their devices), and the ids they declare."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, replace

from monitor.config.devices import Owner, read_devices
from monitor.config.reader import Reader, claim, item_name
from monitor.config.values import identifier, member, nonempty_text, text
from monitor.model.inventory import Carrier, Device, Endpoint
from monitor.model.keys import endpoint_key
from monitor.model.vocabulary import EndpointKind


@dataclass(slots=True)
class Known:
    """Ids declared in the file, for references (even when their entry had problems)."""

    carriers: set[str] = dataclasses.field(default_factory=set)
    endpoints: set[str] = dataclasses.field(default_factory=set)


def read_carriers(root: Reader, known: Known) -> list[Carrier]:
    carriers: list[Carrier] = []
    taken: dict[str, str] = {}
    for index, table in root.tables("carriers"):
        where = f"carriers[{index}]"
        r = Reader(root.ctx, table, item_name("carrier", table, where))
        ident = r.get("id", identifier, required=True)
        name = r.get("name", nonempty_text, required=True)
        contact = r.opt("contact", text, "")
        r.done()
        if ident is None or not claim(r, taken, ident, where):
            continue
        known.carriers.add(ident)
        if name is not None:
            carriers.append(Carrier(id=ident, name=name, contact=contact))
    return carriers


def read_endpoints(root: Reader, known: Known) -> list[Endpoint]:
    endpoints: list[Endpoint] = []
    taken: dict[str, str] = {}
    for index, table in root.tables("endpoints"):
        where = f"endpoints[{index}]"
        r = Reader(root.ctx, table, item_name("endpoint", table, where))
        ident = r.get("id", identifier, required=True)
        carrier = r.ref("carrier", "carrier", known.carriers, required=True)
        kind = r.get("kind", member(EndpointKind), required=True)
        addr = r.address("address", target=True)
        name = r.opt("name", text, "")
        devices, _ = read_devices(r, Owner(ident, endpoint=True))
        r.done()
        if ident is None or not claim(r, taken, ident, where):
            continue
        known.endpoints.add(ident)
        if carrier is not None and kind is not None and addr is not None:
            devices = [_behind(d, ident, addr) for d in devices]
            endpoints.append(
                Endpoint(ident, carrier, kind, addr, name=name, devices=tuple(devices))
            )
    return endpoints


def _behind(device: Device, endpoint: str, address: str) -> Device:
    """A device at its endpoint's own address is reached through that endpoint."""
    if device.address != address:
        return device
    return replace(device, parent=endpoint_key(endpoint))
