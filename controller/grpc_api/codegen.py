"""Regenerate the committed sdqn.v1 modules from proto/sdqn/v1/sdqn.proto (a developer tool).

    python -m controller.grpc_api.codegen      # after editing the proto (or `make grpc`)

The generated modules (sdqn_pb2.py, sdqn_pb2.pyi, sdqn_pb2_grpc.py next to this file) are
committed rather than compiled at run time or by a build hook: a source checkout, an
editable install and a wheel then import the very same files, nothing is ever written
beside the installed code, and grpcio-tools (which pins its own protobuf) stays a
development dependency. tests/controller/grpc_api/test_codegen.py regenerates them and
fails when they differ from the committed ones, or when pyproject's grpcio/protobuf
floors are below the versions the generated code checks for at import.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

PACKAGE_DIR = Path(__file__).resolve().parent
PROTO_ROOT = PACKAGE_DIR / "proto"
PROTO = PROTO_ROOT / "sdqn" / "v1" / "sdqn.proto"
OUTPUTS = ("sdqn_pb2.py", "sdqn_pb2.pyi", "sdqn_pb2_grpc.py")
# protoc writes absolute imports that mirror the proto's path (sdqn/v1/); the modules live
# in this package instead, so the one import of the messages module is rewritten.
_PROTOC_IMPORT = "from sdqn.v1 import sdqn_pb2 as"
_PACKAGE_IMPORT = "from controller.grpc_api import sdqn_pb2 as"


def generate(target: Path) -> list[Path]:
    """Compile the proto (messages, their type stubs, gRPC stubs) into `target`."""
    import grpc_tools

    # protoc runs in a child process: its extension module carries its own protobuf and
    # abseil, and loading it into a process that already holds OR-Tools' copies aborts.
    include = Path(grpc_tools.__file__).resolve().parent / "_proto"
    with tempfile.TemporaryDirectory(prefix="sdqn-protoc-") as out:
        proc = subprocess.run(
            [sys.executable, "-m", "grpc_tools.protoc", f"-I{PROTO_ROOT}", f"-I{include}",
             f"--python_out={out}", f"--pyi_out={out}", f"--grpc_python_out={out}",
             str(PROTO)],
            capture_output=True, text=True, timeout=120, check=False)
        if proc.returncode != 0:
            raise RuntimeError(f"protoc failed ({proc.returncode}) on {PROTO}: "
                               f"{proc.stderr.strip()}")
        generated = Path(out) / "sdqn" / "v1"
        grpc_module = generated / "sdqn_pb2_grpc.py"
        text = grpc_module.read_text()
        if _PROTOC_IMPORT not in text:
            raise RuntimeError(f"protoc's gRPC output no longer contains {_PROTOC_IMPORT!r}")
        grpc_module.write_text(text.replace(_PROTOC_IMPORT, _PACKAGE_IMPORT))
        target.mkdir(parents=True, exist_ok=True)
        written = []
        for name in OUTPUTS:
            shutil.copyfile(generated / name, target / name)
            written.append(target / name)
    return written


if __name__ == "__main__":
    for path in generate(PACKAGE_DIR):
        sys.stdout.write(f"{path}\n")
