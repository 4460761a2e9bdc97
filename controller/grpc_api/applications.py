"""The `Application` enum of sdqn.v1 by name: shared by the server's conversions and the
CLI, which must not import the server side (libyang, Q-NUM) to parse `--app`."""

from __future__ import annotations

APPLICATIONS = {1: "qkd", 2: "dqc", 3: "dqs", 4: "teleportation", 5: "distillation"}
APPLICATION_CODES = {name: code for code, name in APPLICATIONS.items()}
