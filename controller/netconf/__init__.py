"""Northbound NETCONF server (RFC 6241/6242, NMDA RFC 8526, NACM RFC 8341).

`controller.netconf.server.NetconfServer` is reusable: the controller daemon runs one
in front of its datastores, each emulated device runs its own in front of its store.
A store served with NACM needs `NETCONF_MODULES` in its schema.
"""

from __future__ import annotations

# Modules the server's own features need in the store's schema: NACM rules (RFC 8341),
# the monitoring data and get-schema (RFC 6022), the base notifications (RFC 6470).
NETCONF_MODULES: tuple[str, ...] = (
    "ietf-netconf",
    "ietf-netconf-acm",
    "ietf-netconf-monitoring",
    "ietf-netconf-notifications",
)
