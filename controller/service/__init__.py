"""Service layer: intent → Q-NUM → per-device configuration → devices → operational."""
