"""When the repeaters of a chain swap, and when the end nodes learn the swap outcomes.

Two classical delays sit between the last herald of a round and a usable end-to-end pair
(qnum/README.md, "Swap timing"):

* **Swap pairing.** A repeater whose swap protocol is set up on demand first pairs with
  the far ends of its two pairs (SeQUeNCe's swapping rule sends a request to both and
  waits for their answers) — ``swap_pairing_round_trips`` round trips to the farther of
  the two, 2·d/c_f each.  A controller-scheduled chain swaps at once (0, the default).
* **Outcome route.** The Bell-measurement outcome (the Pauli frame) then travels to the
  end nodes: ``along-chain`` (the default) charges one whole chain length ΣL/c_f after the
  swap — the frame is relayed node by node, the far end learns it last; ``direct`` sends
  it straight to each end over the fibre between them, |x_j − x_end|/c_f.

In the synchronous protocol of ``qnum.physics.chain`` every repeater swaps as soon as
every link holds a pair (time M) plus its own pairing delay d_j, so all delays are
deterministic offsets from M (:func:`parallel_swap_timing`).  SeQUeNCe instead swaps
*sequentially* (:func:`sequence_swap_plan`): a repeater waits for pairs to its partners at
its level of a binary tree, which later swaps create; the Monte-Carlo simulator runs that
order as a protocol option.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Final, Literal

from qnum.physics.link import LinkParams, classical_one_way_s

SwapOutcomeRoute = Literal["along-chain", "direct"]
SWAP_OUTCOME_ROUTES: Final[tuple[str, ...]] = ("along-chain", "direct")
SwapOrder = Literal["parallel", "sequential"]
SWAP_ORDERS: Final[tuple[str, ...]] = ("parallel", "sequential")


@dataclass(frozen=True)
class SwapTiming:
    """A chain's swap timing and its deterministic offsets from the last herald M of a
    synchronous round.

    positions_s[k]: signal time from node 0 to node k; pairing_round_trips[j], routes[j]:
    repeater j's settings (0-based among the repeaters); swap_delay_s[j]: repeater j swaps
    at M + d_j; end_wait_s[k]: end node k (0 = source, 1 = destination) knows the whole
    frame at M + s_k.
    """

    positions_s: tuple[float, ...]
    pairing_round_trips: tuple[float, ...]
    routes: tuple[str, ...]
    swap_delay_s: tuple[float, ...]
    end_wait_s: tuple[float, float]

    @property
    def busy_s(self) -> float:
        """How long after M the last repeater memory is freed (the round's extra length)."""
        return max(self.swap_delay_s, default=0.0)

    @property
    def outcome_s(self) -> float:
        """How long after M both end nodes know the frame."""
        return max(self.end_wait_s)


@dataclass(frozen=True)
class SwapStep:
    """One swap of a sequential plan: ``node`` joins its pairs to ``left`` and ``right``."""

    node: int
    left: int
    right: int


def check_swap_options(pairing_round_trips: float, route: str) -> None:
    if not 0.0 <= pairing_round_trips < float("inf"):
        raise ValueError("swap_pairing_round_trips must be a finite number >= 0")
    if route not in SWAP_OUTCOME_ROUTES:
        raise ValueError(f"swap_outcome_route must be one of {SWAP_OUTCOME_ROUTES}")


def node_positions_s(links: Sequence[LinkParams]) -> tuple[float, ...]:
    """Signal time from node 0 to node k along the chain (0 for node 0)."""
    positions = [0.0]
    for link in links:
        positions.append(positions[-1] + classical_one_way_s(link))
    return tuple(positions)


def pairing_delay_s(
    positions: Sequence[float], node: int, left: int, right: int, round_trips: float
) -> float:
    """Round trips to the farther of the two partners (requests leave together)."""
    far = max(positions[node] - positions[left], positions[right] - positions[node])
    return round_trips * 2.0 * far


def outcome_delivery_s(positions: Sequence[float], node: int, end: int, route: str) -> float:
    """Time for repeater ``node``'s outcome to reach node ``end`` (see module docstring)."""
    if route == "direct":
        return abs(positions[node] - positions[end])
    return positions[-1] - positions[0]


def parallel_swap_timing(
    links: Sequence[LinkParams],
    pairing_round_trips: Sequence[float],
    routes: Sequence[str],
) -> SwapTiming:
    """Offsets of the synchronous protocol: every repeater pairs with its neighbours."""
    n = len(links)
    if len(pairing_round_trips) != n - 1 or len(routes) != n - 1:
        raise ValueError("need one swap timing per repeater")
    x = node_positions_s(links)
    delays = tuple(
        pairing_delay_s(x, j, j - 1, j + 1, pairing_round_trips[j - 1]) for j in range(1, n)
    )
    ends = tuple(
        max(
            (
                delays[j - 1] + outcome_delivery_s(x, j, end, routes[j - 1])
                for j in range(1, n)
            ),
            default=0.0,
        )
        for end in (0, n)
    )
    return SwapTiming(
        x, tuple(pairing_round_trips), tuple(routes), delays, (ends[0], ends[1])
    )


def sequence_swap_plan(n_links: int) -> tuple[SwapStep, ...]:
    """SeQUeNCe 0.8.5's swapping order on a path of n_links + 1 nodes, in causal order.

    Its reservation protocol gives the node at index i of the path the partners found by
    repeatedly dropping every other node (keeping the last) while the node's index is
    even: odd-indexed nodes swap first with their neighbours, the survivors then swap
    across the pairs those swaps created, and so on.
    """
    path = list(range(n_links + 1))
    steps: list[tuple[int, SwapStep]] = []
    for node in path[1:-1]:
        current, level = path, 0
        while current.index(node) % 2 == 0:
            current = [v for i, v in enumerate(current) if i % 2 == 0 or i == len(current) - 1]
            level += 1
        k = current.index(node)
        steps.append((level, SwapStep(node, current[k - 1], current[k + 1])))
    return tuple(step for _, step in sorted(steps, key=lambda s: (s[0], s[1].node)))
