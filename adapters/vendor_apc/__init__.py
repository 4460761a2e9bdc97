"""Adapter for the Polarix APC (vendor JSON-over-HTTP REST API v1, no NETCONF)."""

from adapters.vendor_apc.adapter import PolarixApcAdapter

__all__ = ["PolarixApcAdapter"]
