"""Northbound RESTCONF server (RFC 8040, NMDA RFC 8527, YANG Patch RFC 8072).

`controller.restconf.server.RestconfServer` serves the controller's `NmdaStore` over
HTTP(S) with the accounts and NACM rules of the NETCONF server (`access.DataAccess`).
`RESTCONF_MODULES` are what its own state needs in the store's schema.
"""

from __future__ import annotations

# RFC 8040 §9.1: stream discovery and capabilities live in ietf-restconf-monitoring.
RESTCONF_MODULES: tuple[str, ...] = ("ietf-restconf-monitoring",)
