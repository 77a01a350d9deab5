"""`[[sites]]` and their `[[sites.links]]`, which refer to carriers, endpoints and devices."""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, replace

from monitor.config.calendar import read_range
from monitor.config.carriers import Known
from monitor.config.devices import Owner, check_watched, read_devices
from monitor.config.probe import read_thresholds
from monitor.config.reader import Reader, claim, item_name
from monitor.config.values import coordinates, identifier, integer, member, nonempty_text
from monitor.model.inventory import (
    DEFAULT_MIN_CARRIERS,
    Device,
    InterfaceRef,
    Link,
    Site,
    Thresholds,
)
from monitor.model.vocabulary import LinkKind


@dataclass(frozen=True, slots=True)
class SiteScope:
    """What a link may refer to: the file's carriers and endpoints, its site's devices.

    `device_ids` holds every device id declared, `devices` those that loaded.
    """

    site: str | None
    known: Known
    device_ids: Collection[str]
    devices: Mapping[str, Device]
    thresholds: Thresholds


def read_interface_ref(r: Reader, scope: SiteScope) -> InterfaceRef | None:
    s = r.sub("interface")
    if s is None:
        return None
    device = s.ref("device", "device", scope.device_ids, required=True)
    name = s.get("name", nonempty_text)
    index = s.get("index", integer(1))
    s.done()
    if s.has("name") == s.has("index"):
        s.problem(None, 'expected exactly one of "name" or "index"')
        return None
    if device is None or (name is None and index is None):
        return None
    ref = InterfaceRef(device=device, name=name, index=index)
    if device in scope.devices:
        check_watched(s, ref, scope.devices[device])
    return ref


def read_powered_by(r: Reader, scope: SiteScope) -> str | None:
    """The UPS the link's equipment runs on: a device of this site with `ups = true`."""
    device = r.ref("powered_by", "device", scope.device_ids, required=False)
    if device is None or device not in scope.devices or scope.devices[device].ups:
        return device
    ups = sorted(d.id for d in scope.devices.values() if d.ups)
    r.problem(
        "powered_by",
        f'device "{device}" is not a UPS; expected a device of this site with ups = true '
        f"(known: {', '.join(ups) or 'none'})",
    )
    return None


def read_link(r: Reader, scope: SiteScope) -> Link | None:
    ident = r.get("id", identifier, required=True)
    carrier = r.ref("carrier", "carrier", scope.known.carriers, required=True)
    kind = r.get("kind", member(LinkKind), required=True)
    addr = r.address("address", target=True)
    upstream = r.ref("upstream", "endpoint", scope.known.endpoints, required=False)
    active = read_range(r, "active", required=False)
    interface = read_interface_ref(r, scope)
    powered_by = read_powered_by(r, scope)
    thresholds = read_thresholds(r.sub("thresholds"), scope.thresholds)
    r.done()
    if ident is None or carrier is None or kind is None or addr is None:
        return None
    return Link(
        id=ident,
        site=scope.site or "",
        carrier=carrier,
        kind=kind,
        address=addr,
        upstream=upstream,
        active=active,
        thresholds=thresholds,
        interface=interface,
        powered_by=powered_by,
    )


def read_links(site: Reader, scope: SiteScope) -> list[Link]:
    links: list[Link] = []
    taken: dict[str, str] = {}
    entries = site.tables("links")
    if site.raw("links") in (None, []):
        site.problem("links", "at least one link is required")
    for index, table in entries:
        where = f"links[{index}]"
        r = Reader(site.ctx, table, f"{site.item} {item_name('link', table, where)}")
        link = read_link(r, scope)
        ident = table.get("id")
        if isinstance(ident, str) and claim(r, taken, ident, where) and link is not None:
            links.append(link)
    return links


def check_min_carriers(r: Reader, minimum: int, links: Sequence[Link]) -> None:
    carriers = sorted({link.carrier for link in links})
    if minimum > len(carriers):
        r.problem(
            "min_carriers",
            f"expected at most {len(carriers)}, the number of carriers among the site's links "
            f"({', '.join(carriers)}), got {minimum}",
        )


def resolve_via(r: Reader, device: Device, links: Sequence[Link]) -> Device:
    """The link a site's device is polled over: `via`, else the link at its address,
    else the site's only link; None when the addresses do not say (a warning)."""
    by_id = {link.id: link for link in links}
    if device.parent is not None:  # `via` as written: a link id of this site
        if device.parent in by_id:
            return replace(device, parent=by_id[device.parent].target_key)
        r.ctx.add(
            f'{r.item} device "{device.id}"',
            "via",
            f'unknown link "{device.parent}"; expected a link of this site '
            f"(known: {', '.join(sorted(by_id)) or 'none'})",
        )
        return replace(device, parent=None)
    same = [link for link in links if link.address == device.address]
    if len(same) == 1:
        return replace(device, parent=same[0].target_key)
    if len(links) == 1:
        return replace(device, parent=links[0].target_key)
    return device


def read_site(r: Reader, known: Known, defaults: Thresholds) -> Site | None:
    ident = r.get("id", identifier, required=True)
    name = r.get("name", nonempty_text, required=True)
    district = r.get("district", nonempty_text, required=True)
    coords = r.get("coordinates", coordinates)
    min_carriers = r.opt("min_carriers", integer(1), DEFAULT_MIN_CARRIERS)
    thresholds = read_thresholds(r.sub("thresholds"), defaults)
    devices, device_ids = read_devices(r, Owner(ident))
    by_id = {d.id: d for d in devices}
    count_before = r.ctx.reported
    links = read_links(r, SiteScope(ident, known, device_ids, by_id, thresholds))
    r.done()
    if r.ctx.reported == count_before:  # judge redundancy on a complete list only
        check_min_carriers(r, min_carriers, links)
    devices = [resolve_via(r, device, links) for device in devices]
    if ident is None or name is None or district is None:
        return None
    return Site(
        id=ident,
        name=name,
        district=district,
        coordinates=coords,
        min_carriers=min_carriers,
        links=tuple(links),
        devices=tuple(devices),
        thresholds=thresholds,
    )


def read_sites(root: Reader, known: Known, defaults: Thresholds) -> list[Site]:
    entries = root.tables("sites")
    if root.raw("sites") in (None, []):
        root.problem("sites", "at least one site is required")
    sites: list[Site] = []
    taken: dict[str, str] = {}
    for index, table in entries:
        where = f"sites[{index}]"
        r = Reader(root.ctx, table, item_name("site", table, where))
        site = read_site(r, known, defaults)
        ident = table.get("id")
        if isinstance(ident, str) and claim(r, taken, ident, where) and site is not None:
            sites.append(site)
    return sites
