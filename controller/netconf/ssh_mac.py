"""paramiko checks every received packet's MAC with its own constant-time comparison, a
Python loop over the MAC's bytes: about a fifth of a NETCONF server's CPU per small rpc.
The standard library's `hmac.compare_digest` is the same constant-time comparison in C.
Importing this module makes paramiko use it (for every paramiko user in the process)."""

from __future__ import annotations

import hmac

import paramiko.util


def _compare(a: bytes, b: bytes) -> bool:
    return hmac.compare_digest(a, b)


paramiko.util.constant_time_bytes_eq = _compare
