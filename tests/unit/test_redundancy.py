"""Redundancy groups: which links of a site fail together, and fake redundancy."""

from __future__ import annotations

import pytest

from monitor.model.inventory import Link, Site, Thresholds
from monitor.model.redundancy import fake_redundancy, independent_groups
from monitor.model.vocabulary import LinkKind


def link(
    ident: str, carrier: str, upstream: str | None = None, powered_by: str | None = None
) -> Link:
    return Link(
        id=ident,
        site="thpt-a",
        carrier=carrier,
        kind=LinkKind.FIBRE,
        address=f"10.0.0.{len(ident)}",
        upstream=upstream,
        active=None,
        thresholds=Thresholds(),
        powered_by=powered_by,
    )


def site(*links: Link, min_carriers: int = 2) -> Site:
    return Site(
        id="thpt-a",
        name="THPT A",
        district="Cao Lộc",
        coordinates=None,
        min_carriers=min_carriers,
        links=links,
    )


def test_it_keeps_links_of_different_carriers_and_endpoints_apart() -> None:
    s = site(link("vt-fibre", "viettel", "vt-gw"), link("vnpt-fibre", "vnpt", "vnpt-gw"))

    assert independent_groups(s) == [frozenset({"vt-fibre"}), frozenset({"vnpt-fibre"})]
    assert fake_redundancy(s) == []


def test_it_groups_links_of_the_same_carrier() -> None:
    s = site(
        link("vt-fibre", "viettel", "vt-gw"),
        link("vt-4g", "viettel", "vt-bts"),
        link("vnpt-fibre", "vnpt"),
    )

    assert independent_groups(s) == [frozenset({"vt-fibre", "vt-4g"}), frozenset({"vnpt-fibre"})]
    assert fake_redundancy(s) == []


def test_it_groups_links_of_two_carriers_behind_one_endpoint() -> None:
    s = site(link("vt-fibre", "viettel", "transit-gw"), link("vnpt-fibre", "vnpt", "transit-gw"))

    assert independent_groups(s) == [frozenset({"vt-fibre", "vnpt-fibre"})]
    assert fake_redundancy(s) == [
        'site "thpt-a": links vt-fibre (viettel) and vnpt-fibre (vnpt) both depend on endpoint '
        '"transit-gw": they count as one carrier for min_carriers',
        'site "thpt-a": can never meet min_carriers = 2: its links form 1 independent group',
    ]


def test_it_groups_links_of_two_carriers_on_one_ups() -> None:
    s = site(
        link("vt-fibre", "viettel", powered_by="ups"),
        link("vnpt-fibre", "vnpt", powered_by="ups"),
        link("mobi-4g", "mobifone"),
    )

    assert independent_groups(s) == [
        frozenset({"vt-fibre", "vnpt-fibre"}),
        frozenset({"mobi-4g"}),
    ]
    assert fake_redundancy(s) == [
        'site "thpt-a": links vt-fibre (viettel) and vnpt-fibre (vnpt) both depend on UPS '
        '"ups": they count as one carrier for min_carriers'
    ]


def test_it_chains_a_shared_carrier_and_a_shared_ups_into_one_group() -> None:
    a = link("a", "viettel")
    b = link("b", "viettel", powered_by="ups")
    c = link("c", "vnpt", powered_by="ups")
    d = link("d", "mobifone")

    assert independent_groups(site(a, b, c, d)) == [frozenset({"a", "b", "c"}), frozenset({"d"})]
    assert independent_groups(site(a, c, d, b)) == [frozenset({"a", "b", "c"}), frozenset({"d"})]


def test_it_names_every_link_behind_a_shared_endpoint() -> None:
    s = site(
        link("vt-fibre", "viettel", "gw"),
        link("vnpt-fibre", "vnpt", "gw"),
        link("mobi-4g", "mobifone", "gw"),
        min_carriers=1,
    )

    assert fake_redundancy(s) == [
        'site "thpt-a": links vt-fibre (viettel), vnpt-fibre (vnpt) and mobi-4g (mobifone) all '
        'depend on endpoint "gw": they count as one carrier for min_carriers'
    ]


def test_it_does_not_call_one_carriers_own_gateway_fake_redundancy() -> None:
    s = site(
        link("vt-fibre", "viettel", "vt-gw"), link("vt-4g", "viettel", "vt-gw"), min_carriers=1
    )

    assert fake_redundancy(s) == []


def test_it_groups_only_the_links_it_is_given() -> None:
    s = site(
        link("a", "viettel", "gw"),
        link("b", "vnpt", "gw"),
        link("c", "mobifone"),
    )

    assert independent_groups(s, ["c", "a"]) == [frozenset({"a"}), frozenset({"c"})]
    assert independent_groups(s, iter(["b", "a"])) == [frozenset({"a", "b"})]
    assert independent_groups(s, []) == []


def test_it_refuses_a_link_the_site_does_not_have() -> None:
    with pytest.raises(ValueError, match="site 'thpt-a' has no link 'x'"):
        independent_groups(site(link("a", "viettel")), ["a", "x"])


def test_it_counts_several_groups_below_min_carriers() -> None:
    s = site(
        link("a", "viettel", "gw"),
        link("b", "vnpt", "gw"),
        link("c", "mobifone"),
        min_carriers=3,
    )

    assert fake_redundancy(s)[-1] == (
        'site "thpt-a": can never meet min_carriers = 3: its links form 2 independent groups'
    )
