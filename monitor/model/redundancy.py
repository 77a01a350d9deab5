"""Which of a site's links can fail independently: redundancy groups (pure).

Two links fail together when they belong to the same carrier, hang off the
same carrier endpoint (`upstream`) or run on the same UPS (`powered_by`): a
shared endpoint or UPS is one point of failure. Links of two carriers that
share one count once towards the site's `min_carriers`: fake redundancy.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence

from monitor.model.inventory import Link, Site


class _Groups:
    """Union-find over link ids (with path halving)."""

    def __init__(self, ids: Iterable[str]) -> None:
        self.parent = {ident: ident for ident in ids}

    def find(self, ident: str) -> str:
        while self.parent[ident] != ident:
            self.parent[ident] = self.parent[self.parent[ident]]
            ident = self.parent[ident]
        return ident

    def join(self, first: str, second: str) -> None:
        self.parent[self.find(second)] = self.find(first)


def _shared(links: Sequence[Link]) -> Iterable[list[Link]]:
    """The links behind each carrier, each upstream endpoint and each UPS."""
    by: dict[tuple[str, str], list[Link]] = defaultdict(list)
    for link in links:
        by["carrier", link.carrier].append(link)
        if link.upstream is not None:
            by["endpoint", link.upstream].append(link)
        if link.powered_by is not None:
            by["ups", link.powered_by].append(link)
    return by.values()


def _links(site: Site, link_ids: Iterable[str] | None) -> list[Link]:
    if link_ids is None:
        return list(site.links)
    by_id = {link.id: link for link in site.links}
    wanted = set(link_ids)
    unknown = sorted(wanted - by_id.keys())
    if unknown:
        raise ValueError(f"site {site.id!r} has no link {', '.join(map(repr, unknown))}")
    return [link for link in site.links if link.id in wanted]


def independent_groups(site: Site, link_ids: Iterable[str] | None = None) -> list[frozenset[str]]:
    """The site's links (those of `link_ids`, default all) in groups that fail together.

    Groups come in the order of their first link in the site; the number of
    groups is what counts towards `min_carriers`.
    """
    links = _links(site, link_ids)
    groups = _Groups(link.id for link in links)
    for together in _shared(links):
        for link in together[1:]:
            groups.join(together[0].id, link.id)
    members: dict[str, list[str]] = {}
    for link in links:
        members.setdefault(groups.find(link.id), []).append(link.id)
    return [frozenset(ids) for ids in members.values()]


def _listed(links: Sequence[Link]) -> str:
    named = [f"{link.id} ({link.carrier})" for link in links]
    if len(named) == 2:
        return f"{named[0]} and {named[1]} both"
    return f"{', '.join(named[:-1])} and {named[-1]} all"


def _shared_warnings(site: Site) -> list[str]:
    """Links of different carriers behind one endpoint or one UPS."""
    dependencies: tuple[tuple[str, Callable[[Link], str | None]], ...] = (
        ("endpoint", lambda link: link.upstream),
        ("UPS", lambda link: link.powered_by),
    )
    warnings = []
    for what, depends_on in dependencies:
        behind: dict[str, list[Link]] = defaultdict(list)
        for link in site.links:
            shared = depends_on(link)
            if shared is not None:
                behind[shared].append(link)
        for shared, links in behind.items():
            if len({link.carrier for link in links}) > 1:
                warnings.append(
                    f'site "{site.id}": links {_listed(links)} depend on {what} "{shared}": '
                    "they count as one carrier for min_carriers"
                )
    return warnings


def fake_redundancy(site: Site) -> list[str]:
    """Human warnings: shared endpoints or UPS, and a min_carriers the links can never meet."""
    warnings = _shared_warnings(site)
    count = len(independent_groups(site))
    if count < site.min_carriers:
        noun = "group" if count == 1 else "groups"
        warnings.append(
            f'site "{site.id}": can never meet min_carriers = {site.min_carriers}: '
            f"its links form {count} independent {noun}"
        )
    return warnings
