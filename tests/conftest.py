"""Suite-wide set-up: quiet structured logs on stderr (tests read stdout of children)."""

from __future__ import annotations

from controller.logs import configure_logging

configure_logging("warning")
