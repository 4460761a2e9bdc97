"""The wheel is the product: `python -m build` makes it, a fresh venv outside the checkout
installs it, and from there `sdqn demo`, `sdqn solve` and the daemon (with its gRPC
reflection, without grpcio-tools) run on the packaged YANG modules and default config.

Every child runs with PYTHONPATH stripped and its working directory outside the checkout,
so nothing can import the source tree by accident. Select with `-m wheel`; pip's cache
makes a second run much faster than the first (the dependencies are downloaded once).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from controller.paths import CONFIG_DIR, REPO_ROOT, YANG_DIR

pytestmark = [pytest.mark.wheel, pytest.mark.timeout(1200)]

_LEAKY_ENV = ("PYTHONPATH", "PYTHONHOME", "PYTHONSTARTUP", "VIRTUAL_ENV", "SDQN_DATA_DIR")


@dataclass
class Installed:
    wheel: Path
    venv: Path
    workdir: Path   # a working directory outside the checkout
    env: dict[str, str]
    resources: dict[str, str]  # where the installed code finds things

    def sdqn(self, *args: str, timeout: float = 300) -> subprocess.CompletedProcess[str]:
        return subprocess.run([str(self.venv / "bin" / "sdqn"), *args], cwd=self.workdir,
                              env=self.env, capture_output=True, text=True, timeout=timeout,
                              check=False)


def _clean_env(data_dir: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in _LEAKY_ENV}
    env.update(SDQN_DATA_DIR=str(data_dir), PYTHONNOUSERSITE="1", COLUMNS="200",
               PYTHONUNBUFFERED="1")
    return env


def _run(cmd: list[str], cwd: Path, env: dict[str, str], timeout: float) -> str:
    proc = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True,
                          timeout=timeout, check=False)
    assert proc.returncode == 0, f"{' '.join(cmd)}\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}"
    return proc.stdout


_PROBE = """
import importlib.util, json, controller, controller.paths as p
print(json.dumps({"package": controller.__file__, "yang": str(p.YANG_DIR),
                  "config": str(p.CONFIG_DIR), "data": str(p.data_dir()),
                  "grpc_tools": importlib.util.find_spec("grpc_tools") is not None}))
"""


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Installed]:
    root = tmp_path_factory.mktemp("wheel")
    assert not root.resolve().is_relative_to(REPO_ROOT)
    workdir, dist, venv = root / "work", root / "dist", root / "venv"
    workdir.mkdir()
    env = _clean_env(root / "data")
    _run([sys.executable, "-m", "build", "--outdir", str(dist), str(REPO_ROOT)],
         workdir, env, 600)
    (wheel,) = dist.glob("sdqn-*.whl")
    _run([sys.executable, "-m", "venv", str(venv)], workdir, env, 120)
    _run([str(venv / "bin" / "python"), "-m", "pip", "install", "--quiet", str(wheel)],
         workdir, env, 900)
    resources = json.loads(_run([str(venv / "bin" / "python"), "-c", _PROBE], workdir, env, 60))
    yield Installed(wheel, venv, workdir, env, resources)


def test_the_wheel_carries_yang_config_and_the_generated_grpc_code(
        installed: Installed) -> None:
    names = zipfile.ZipFile(installed.wheel).namelist()
    version = installed.wheel.name.split("-")[1]
    data = f"sdqn-{version}.data/data/share/sdqn/"
    assert {f"{data}yang/{p.name}" for p in YANG_DIR.glob("*.yang")} <= set(names)
    shipped = {p.relative_to(CONFIG_DIR).as_posix() for p in CONFIG_DIR.rglob("*")
               if p.is_file()}
    assert {"controller.json", "nacm.json", "sdqn.service", "topologies/metro.json",
            "services/demo.json"} <= shipped
    assert {f"{data}config/{name}" for name in shipped} <= set(names)
    assert {"controller/grpc_api/sdqn_pb2.py", "controller/grpc_api/sdqn_pb2.pyi",
            "controller/grpc_api/sdqn_pb2_grpc.py"} <= set(names)
    assert "controller/bench/peer_yang/sdqn-bench-peer.yang" in names  # the bench's peer


def test_the_installed_code_runs_from_the_venv_not_the_checkout(installed: Installed) -> None:
    venv = installed.venv.resolve()
    for key in ("package", "yang", "config"):
        path = Path(installed.resources[key]).resolve()
        assert path.is_relative_to(venv) and not path.is_relative_to(REPO_ROOT), (key, path)
    assert Path(installed.resources["yang"]) == venv / "share" / "sdqn" / "yang"
    assert installed.resources["grpc_tools"] is False   # a development dependency only


def test_demo_runs_from_the_wheel(installed: Installed) -> None:
    demo = installed.sdqn("demo", "--duration", "20", "--port", "0")
    assert demo.returncode == 0, demo.stdout[-3000:] + demo.stderr[-3000:]
    lines = demo.stdout.splitlines()
    assert lines[0].startswith("netconf listening on 127.0.0.1:"), lines[:3]
    assert any("sdqn demo — Q-NUM optimal" in line for line in lines), demo.stdout
    cut = [line for line in lines if line.startswith("controller: root cause")]
    assert cut and "['r1-r2']" in cut[0] and "re-routed ['qkd-alice-bob']" in cut[0], cut


def test_solve_runs_on_the_packaged_topology_and_services(installed: Installed) -> None:
    config = Path(installed.resources["config"])
    solve = installed.sdqn("solve", "--topology", str(config / "topologies" / "metro.json"),
                           "--requests", str(config / "services" / "demo.json"), "--json")
    assert solve.returncode == 0, solve.stderr[-3000:]
    plan = json.loads(solve.stdout)["sdqn-qnum:plan"]
    assert plan["status"] == "optimal"
    admission = {r["name"]: r["admission"] for r in plan["request"]}
    assert admission == {"qkd-alice-bob": "admitted", "dqc-charlie-dave": "admitted",
                         "dqs-alice-dave": "rejected", "teleport-bob-charlie": "admitted"}


_REFLECT = """
import json, sys, grpc
from grpc_reflection.v1alpha.proto_reflection_descriptor_database import (
    ProtoReflectionDescriptorDatabase)
with grpc.insecure_channel(sys.argv[1]) as channel:
    database = ProtoReflectionDescriptorDatabase(channel)
    service = database.FindFileContainingSymbol("sdqn.v1.ControllerService").service[0]
    print(json.dumps({"services": sorted(database.get_services()),
                      "methods": sorted(m.name for m in service.method)}))
"""


def test_daemon_from_etc_style_config_serves_grpc_with_reflection(
        installed: Installed, tmp_path: Path) -> None:
    """The README's install: the packaged config copied to a directory of its own (its
    relative nacm.json resolves there), data under SDQN_DATA_DIR, nothing written into
    the installation."""
    etc = tmp_path / "etc" / "sdqn"
    etc.mkdir(parents=True)
    packaged = Path(installed.resources["config"])
    shutil.copy(packaged / "nacm.json", etc / "nacm.json")
    config = json.loads((packaged / "controller.json").read_text())
    for section in ("netconf", "restconf", "grpc"):
        config[section]["port"] = 0
    # the shipped config names no account; the walkthrough's demo token for the CLI call
    config["grpc"]["tokens"] = [{"user": "admin", "token": "admin"}]
    (etc / "controller.json").write_text(json.dumps(config))
    data = tmp_path / "data"
    env = {**installed.env, "SDQN_DATA_DIR": str(data)}
    before = sorted(p for p in installed.venv.rglob("*") if p.is_file())
    daemon = subprocess.Popen(
        [str(installed.venv / "bin" / "sdqn"), "controller", "run", "--config",
         str(etc / "controller.json"), "--log-level", "warning"], cwd=installed.workdir,
        env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert daemon.stdout is not None
        lines = [daemon.stdout.readline() for _ in range(3)]
        assert [line.split(" ")[0] for line in lines] == ["netconf", "restconf", "grpc"], (
            lines, daemon.stderr.read() if daemon.poll() is not None else "")
        target = lines[2].rsplit(" ", 1)[1].strip()
        reflected = json.loads(_run([str(installed.venv / "bin" / "python"), "-c", _REFLECT,
                                     target], installed.workdir, env, 60))
        assert "sdqn.v1.ControllerService" in reflected["services"]
        assert {"SubmitRequest", "WhatIf", "Commit", "Watch"} <= set(reflected["methods"])
        listed = installed.sdqn("request", "list", "--target", target, "--token", "admin",
                                "--json", timeout=60)
        assert listed.returncode == 0, listed.stderr
        assert json.loads(listed.stdout) == {"requests": []}   # running holds none yet
        denied = installed.sdqn("request", "list", "--target", target, "--token", "wrong",
                                timeout=60)
        assert denied.returncode == 1 and "UNAUTHENTICATED" in denied.stdout + denied.stderr
    finally:
        daemon.terminate()
        daemon.wait(timeout=30)
    assert (data / "sdqn-datastores.sqlite").is_file()
    assert (data / "ssh_host_ecdsa_key").is_file()
    after = sorted(p for p in installed.venv.rglob("*") if p.is_file()
                   if "__pycache__" not in p.parts)
    assert after == [p for p in before if "__pycache__" not in p.parts]
