"""Controller configuration (config/controller.json), validated with pydantic.

Only process-level settings live here (where to listen, where to store data). Everything
an operator manages at run time is YANG data in the datastores instead.
"""

from __future__ import annotations

import json
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field

from controller.paths import CONFIG_DIR, REPO_ROOT

PRODUCT_MODULES: tuple[str, ...] = (
    "ietf-network",
    "ietf-network-topology",
    "ietf-alarms",
    "sdqn-types",
    "sdqn-topology",
    "sdqn-services",
    "sdqn-controller",
)


class DatastoreSettings(BaseModel):
    model_config = ConfigDict(extra="forbid")

    data_dir: Path = Field(default=REPO_ROOT / "var", description="SQLite file lives here")
    snapshot_every: int = Field(default=256, ge=1, description="journal entries per snapshot")
    synchronous: str = Field(default="FULL", pattern="^(FULL|NORMAL|EXTRA)$",
                             description="SQLite synchronous level (FULL survives power loss)")
    boot_from_startup: bool = Field(default=False,
                                    description="load running from startup at start-up")

    @property
    def database(self) -> Path:
        return self.data_dir / "sdqn-datastores.sqlite"


class ControllerSettings(BaseModel):
    model_config = ConfigDict(extra="forbid")

    modules: list[str] = Field(default_factory=lambda: list(PRODUCT_MODULES))
    datastore: DatastoreSettings = Field(default_factory=DatastoreSettings)

    @classmethod
    def load(cls, path: Path | None = None) -> ControllerSettings:
        path = path or CONFIG_DIR / "controller.json"
        if not path.exists():
            return cls()
        settings = cls.model_validate(json.loads(path.read_text()))
        if not settings.datastore.data_dir.is_absolute():
            settings.datastore.data_dir = (path.parent.parent / settings.datastore.data_dir)
        return settings
