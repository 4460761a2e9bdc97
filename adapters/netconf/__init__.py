"""The generic NETCONF adapter (ncclient)."""

from adapters.netconf.adapter import NetconfAdapter

__all__ = ["NetconfAdapter"]
