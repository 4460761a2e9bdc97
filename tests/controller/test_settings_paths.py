"""Where the controller reads and writes: relative paths in a config file resolve against
that file's directory, and the default data directory follows SDQN_DATA_DIR, then
/var/lib/sdqn for root, then XDG."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from controller import paths
from controller.settings import ControllerSettings


def test_relative_paths_resolve_against_the_config_files_directory(tmp_path: Path) -> None:
    etc = tmp_path / "etc" / "sdqn"
    etc.mkdir(parents=True)
    tls = {"cert_file": "tls/server.pem", "key_file": "tls/server.key",
           "client_ca_file": "tls/ca.pem"}
    (etc / "controller.json").write_text(json.dumps({
        "datastore": {"data_dir": "state"},
        "netconf": {"nacm_file": "nacm.json", "host_key": "keys/host"},
        "restconf": {"tls": tls}, "grpc": {"tls": tls}}))
    settings = ControllerSettings.load(etc / "controller.json")
    assert settings.datastore.data_dir == etc / "state"
    assert settings.datastore.database == etc / "state" / "sdqn-datastores.sqlite"
    assert settings.netconf.nacm_file == etc / "nacm.json"
    assert settings.host_key_path == etc / "keys" / "host"
    for section in (settings.restconf.tls, settings.grpc.tls):
        assert section is not None
        assert (section.cert_file, section.key_file, section.client_ca_file) == (
            etc / "tls" / "server.pem", etc / "tls" / "server.key", etc / "tls" / "ca.pem")


def test_a_relative_config_path_resolves_against_the_working_directory(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "controller.json").write_text(json.dumps({"datastore": {"data_dir": "d"}}))
    monkeypatch.chdir(tmp_path)
    settings = ControllerSettings.load(Path("controller.json"))
    assert settings.datastore.data_dir == tmp_path / "d"


def test_absolute_paths_are_kept(tmp_path: Path) -> None:
    (tmp_path / "c.json").write_text(json.dumps({
        "datastore": {"data_dir": "/srv/sdqn"}, "netconf": {"nacm_file": "/etc/nacm.json"}}))
    settings = ControllerSettings.load(tmp_path / "c.json")
    assert settings.datastore.data_dir == Path("/srv/sdqn")
    assert settings.netconf.nacm_file == Path("/etc/nacm.json")


def test_the_shipped_config_uses_the_default_data_dir_and_its_own_nacm_rules(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(paths.DATA_DIR_ENV, str(tmp_path / "data"))
    settings = ControllerSettings.load()
    assert settings.datastore.data_dir == tmp_path / "data"
    assert settings.netconf.nacm_file == paths.CONFIG_DIR / "nacm.json"
    assert settings.netconf.nacm_file.is_file()
    assert settings.host_key_path == tmp_path / "data" / "ssh_host_ecdsa_key"


def test_data_dir_env_override(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(paths.DATA_DIR_ENV, str(tmp_path / "x"))
    assert paths.data_dir() == tmp_path / "x"


def test_data_dir_root_uses_var_lib(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(paths.DATA_DIR_ENV)
    monkeypatch.setattr(paths.os, "geteuid", lambda: 0)
    assert paths.data_dir() == Path("/var/lib/sdqn")


def test_data_dir_user_follows_xdg(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(paths.DATA_DIR_ENV)
    monkeypatch.setattr(paths.os, "geteuid", lambda: 1000)
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "xdg"))
    assert paths.data_dir() == tmp_path / "xdg" / "sdqn"
    monkeypatch.setenv("XDG_DATA_HOME", "relative/ignored")  # XDG: relative values are invalid
    assert paths.data_dir() == tmp_path / "home" / ".local" / "share" / "sdqn"
    monkeypatch.delenv("XDG_DATA_HOME")
    assert paths.data_dir() == tmp_path / "home" / ".local" / "share" / "sdqn"


def test_resources_are_found_in_the_checkout() -> None:
    assert (paths.YANG_DIR / "sdqn-types.yang").is_file()
    assert (paths.CONFIG_DIR / "controller.json").is_file()
    assert (paths.CONFIG_DIR / "topologies" / "metro.json").is_file()
