"""Physical constants and defaults shared by every physics model (SI units, km for fibre)."""

from __future__ import annotations

#: Speed of light in standard single-mode fibre (group index ~1.5), km/s.
C_FIBRE_KM_PER_S: float = 2e5

#: Telecom C-band attenuation of standard fibre (ITU-T G.652), dB/km.
DEFAULT_ATTENUATION_DB_PER_KM: float = 0.2

#: Fidelity of the maximally mixed two-qubit state to any Bell state.
MAXIMALLY_MIXED_FIDELITY: float = 0.25

#: A Bell pair with F <= 1/2 is separable for Werner states (no entanglement).
PAIR_CLASSICAL_LIMIT: float = 0.5

#: Best fidelity achievable by measure-and-prepare storage/teleportation (classical limit 2/3).
MEMORY_CLASSICAL_LIMIT: float = 2.0 / 3.0
