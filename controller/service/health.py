"""What the controller currently believes is broken in the network, as the optimiser sees it.

Running holds the operator's topology: a cut fibre is still a fibre the operator owns and
will repair, so failures are not written into running. They overlay the parsed network
just before Q-NUM sees it: failed fibres and every fibre of a failed node disappear, and a
link whose measured fidelity fell below what the topology promises is planned with the
measured value (a threshold crossing re-plans with the truth, e.g. adds purification).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace

from qnum.io import Network


@dataclass(frozen=True)
class NetworkHealth:
    failed_links: frozenset[str] = frozenset()
    failed_nodes: frozenset[str] = frozenset()
    link_fidelity: Mapping[str, float] = field(default_factory=dict)
    #: (device, link-generation entry) reporting a failure: the entry stays configured even
    #: when no flow uses it any more, because it is the only eye on that fibre — its
    #: clearing report is how the controller learns of the repair.
    watch: frozenset[tuple[str, str]] = frozenset()

    @property
    def healthy(self) -> bool:
        return not (self.failed_links or self.failed_nodes or self.link_fidelity)

    def same_failures(self, other: NetworkHealth) -> bool:
        return (self.failed_links, self.failed_nodes, dict(self.link_fidelity)) == (
            other.failed_links, other.failed_nodes, dict(other.link_fidelity))

    def unusable_links(self, network: Network) -> frozenset[str]:
        return frozenset(
            link_id for link_id, link in network.links.items()
            if link_id in self.failed_links
            or link.a in self.failed_nodes or link.b in self.failed_nodes)

    def apply(self, network: Network) -> Network:
        """The network Q-NUM may use now (nodes stay, so their requests get a reason)."""
        if self.healthy:
            return network
        gone = self.unusable_links(network)
        links = {}
        for link_id, link in network.links.items():
            if link_id in gone:
                continue
            measured = self.link_fidelity.get(link_id)
            if measured is not None and measured < link.link_fidelity:
                link = replace(link, link_fidelity=measured)
            links[link_id] = link
        return replace(network, links=links)
