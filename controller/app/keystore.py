"""Device credentials at rest: a keystore file (mode 0600), never controller.json.

The service settings name an entry (`service.device_credentials`); the secret lives in
`service.keystore_file` (default `<data_dir>/keystore.json`). Passwords are pydantic
`SecretStr`, so a printed or logged model shows `**********`. The same idea as the
ietf-keystore model (RFC 9642) in a file rather than a datastore.
"""

from __future__ import annotations

import json
from pathlib import Path

import structlog
from pydantic import BaseModel, ConfigDict, Field, SecretStr

from controller.settings import ControllerSettings

log = structlog.get_logger(__name__)


class KeystoreCredential(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, description="referenced by service.device_credentials")
    username: str = Field(min_length=1)
    password: SecretStr | None = None


class Keystore(BaseModel):
    model_config = ConfigDict(extra="forbid")

    credentials: list[KeystoreCredential] = Field(default_factory=list)

    @classmethod
    def load(cls, path: Path) -> Keystore:
        if path.stat().st_mode & 0o077:
            log.warning("keystore readable by others: chmod 600", path=str(path))
        return cls.model_validate(json.loads(path.read_text()))

    def get(self, name: str) -> KeystoreCredential:
        for entry in self.credentials:
            if entry.name == name:
                return entry
        raise KeyError(f"no credential {name!r} in the keystore")

    def dump(self) -> str:
        """The file's JSON, secrets included (for writing the 0600 file)."""
        return json.dumps({"credentials": [
            {"name": c.name, "username": c.username,
             **({"password": c.password.get_secret_value()} if c.password else {})}
            for c in self.credentials]}, indent=2) + "\n"


def device_login(settings: ControllerSettings) -> tuple[str, str | None]:
    """The account the controller logs in to devices with: the keystore entry named by
    `service.device_credentials`, else the (deprecated) plain `device_password`."""
    svc = settings.service
    if svc.device_credentials is not None:
        entry = Keystore.load(settings.keystore_path).get(svc.device_credentials)
        return entry.username, (entry.password.get_secret_value() if entry.password
                                else None)
    if svc.device_password is not None:
        log.warning("service.device_password is plain text in the configuration: move it "
                    "to the keystore (service.device_credentials)")
    return svc.device_username, svc.device_password
