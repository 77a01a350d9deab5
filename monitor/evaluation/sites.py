"""Rolling links up into a site: isolated, lost redundancy, degraded, ok.

Redundancy counts independent groups, not carriers: two carriers' links that
hang off one endpoint, or one UPS, fail together and count once towards
`min_carriers` (fake redundancy; `monitor.model.redundancy`).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime

from monitor.evaluation.states import SiteVerdict
from monitor.model.inventory import Site
from monitor.model.redundancy import independent_groups
from monitor.model.vocabulary import WORKING, SiteStatus, TargetStatus


def judge_site(
    site: Site, statuses: Mapping[str, TargetStatus], moment: datetime, *, settled: bool = False
) -> SiteVerdict:
    """`statuses` by link target key; `settled`: the site already had a verdict.

    A link without a verdict (not yet judged, or examnet could not measure it:
    its own fault, a round over budget, a socket error) is neither up nor
    lost: when the links that are up fall short only because such links are
    not counted, the site is unknown, never short of carriers. Could not
    measure is not down (Prometheus keeps `up == 0` apart from a target's
    own alerts); examnet's failing probes are examnet's own alert.
    """
    links = list(site.active_links(moment))
    status_of = {link.id: statuses.get(link.target_key, TargetStatus.UNKNOWN) for link in links}
    up = [link for link in links if status_of[link.id] in WORKING]
    carriers = tuple(sorted({link.carrier for link in up}))
    groups = independent_groups(site, [link.id for link in up])
    down = [link.id for link in links if status_of[link.id] is TargetStatus.DOWN]
    if links and len(down) == len(links):
        return SiteVerdict(SiteStatus.ISOLATED, 0, (), "no link up: " + ", ".join(down) + " down")
    pending = [link.id for link in links if status_of[link.id] is TargetStatus.UNKNOWN]
    if len(groups) < site.min_carriers and pending:
        unknown = [*(link.id for link in up), *pending]
        if len(independent_groups(site, unknown)) >= site.min_carriers:
            what = "could not measure" if settled else "no verdict yet on"
            reason = f"{what} " + ", ".join(pending)
            return SiteVerdict(SiteStatus.UNKNOWN, len(up), carriers, reason, len(groups))
    if len(groups) < site.min_carriers:
        shared = " (their links share an endpoint or UPS)" if len(carriers) > len(groups) else ""
        reason = (
            f"{len(groups)} of {site.min_carriers} required independent carriers up"
            f"{shared}: {', '.join(carriers) or 'none'}; down: {', '.join(down) or 'none'}"
        )
        return SiteVerdict(SiteStatus.LOST_REDUNDANCY, len(up), carriers, reason, len(groups))
    degraded = [link.id for link in links if status_of[link.id] is TargetStatus.DEGRADED]
    if degraded:
        reason = f"degraded: {', '.join(degraded)}; {len(carriers)} carriers up"
        return SiteVerdict(SiteStatus.DEGRADED, len(up), carriers, reason, len(groups))
    return SiteVerdict(
        SiteStatus.OK, len(up), carriers, f"{len(carriers)} carriers up", len(groups)
    )
