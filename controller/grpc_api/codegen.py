"""Compile sdqn.v1 (proto/sdqn/v1/sdqn.proto) with grpcio-tools on first use.

Generated modules are not committed: they are derived from the proto and from the
grpcio-tools version, and would go stale. They are written under build/grpc/<hash of
the proto>/ in the repository (build/ is ignored), or under the system temp directory
when the repository is read-only, atomically (a rename), so concurrent processes never
import a half-written module. `make setup` can call `python -m controller.grpc_api.codegen`
to build them ahead of time.
"""

from __future__ import annotations

import hashlib
import importlib
import os
import shutil
import subprocess
import sys
import tempfile
import threading
from pathlib import Path
from types import ModuleType

from controller.paths import REPO_ROOT

PROTO_ROOT = Path(__file__).resolve().parent / "proto"
PROTO = PROTO_ROOT / "sdqn" / "v1" / "sdqn.proto"
SERVICE = "sdqn.v1.Controller"
_lock = threading.Lock()
_loaded: tuple[ModuleType, ModuleType] | None = None


def _digest() -> str:
    import grpc_tools

    version = getattr(grpc_tools, "__version__", "")
    return hashlib.sha256(PROTO.read_bytes() + version.encode()).hexdigest()[:16]


def _candidates(digest: str) -> list[Path]:
    return [REPO_ROOT / "build" / "grpc" / digest,
            Path(tempfile.gettempdir()) / f"sdqn-grpc-{os.getuid()}" / digest]


def generate(target: Path) -> Path:
    """Run protoc (python, grpc and .pyi outputs) into `target`, atomically."""
    import grpc_tools

    # protoc runs in a child process: its extension module carries its own protobuf and
    # abseil, and loading it into a process that already holds OR-Tools' copies aborts.
    include = Path(grpc_tools.__file__).resolve().parent / "_proto"
    target.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=".staging-", dir=target.parent))
    try:
        proc = subprocess.run(
            [sys.executable, "-m", "grpc_tools.protoc", f"-I{PROTO_ROOT}", f"-I{include}",
             f"--python_out={staging}", f"--pyi_out={staging}",
             f"--grpc_python_out={staging}", str(PROTO)],
            capture_output=True, text=True, timeout=120, check=False)
        if proc.returncode != 0:
            raise RuntimeError(f"protoc failed ({proc.returncode}) on {PROTO}: "
                               f"{proc.stderr.strip()}")
        try:
            staging.rename(target)
        except OSError:  # another process won the race: its copy is the same
            if not (target / "sdqn" / "v1" / "sdqn_pb2.py").exists():
                raise
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return target


def build_dir() -> Path:
    digest = _digest()
    for path in _candidates(digest):
        if (path / "sdqn" / "v1" / "sdqn_pb2_grpc.py").exists():
            return path
    errors = []
    for path in _candidates(digest):
        try:
            return generate(path)
        except OSError as exc:
            errors.append(f"{path}: {exc}")
    raise RuntimeError("cannot generate the sdqn.v1 gRPC modules: " + "; ".join(errors))


def load() -> tuple[ModuleType, ModuleType]:
    """(sdqn_pb2, sdqn_pb2_grpc), generated if needed."""
    global _loaded
    with _lock:
        if _loaded is None:
            path = str(build_dir())
            if path not in sys.path:
                sys.path.append(path)
            _loaded = (importlib.import_module("sdqn.v1.sdqn_pb2"),
                       importlib.import_module("sdqn.v1.sdqn_pb2_grpc"))
        return _loaded


if __name__ == "__main__":
    print(build_dir())
