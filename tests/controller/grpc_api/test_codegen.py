"""The committed sdqn.v1 modules are what grpcio-tools makes of the proto today, and the
runtime floors in pyproject.toml satisfy the versions that generated code checks for."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

from packaging.requirements import Requirement
from packaging.version import Version

from controller.grpc_api.codegen import OUTPUTS, PACKAGE_DIR, generate
from controller.paths import REPO_ROOT

# The version stamps protoc writes: they follow the installed grpcio-tools patch release,
# so they are compared against pyproject's floors below instead of byte for byte.
GRPC_STAMP = re.compile(r"GRPC_GENERATED_VERSION = '([0-9.]+)'")
PROTOBUF_STAMP = re.compile(
    r"ValidateProtobufRuntimeVersion\(\s*_runtime_version\.Domain\.PUBLIC,\s*"
    r"(\d+),\s*(\d+),\s*(\d+),")
PROTOBUF_COMMENT = re.compile(r"# Protobuf Python Version: [0-9.]+")


def _without_stamps(text: str) -> str:
    text = GRPC_STAMP.sub("GRPC_GENERATED_VERSION = '<stamp>'", text)
    text = PROTOBUF_STAMP.sub("ValidateProtobufRuntimeVersion(<stamp>,", text)
    return PROTOBUF_COMMENT.sub("# Protobuf Python Version: <stamp>", text)


def _floor(name: str) -> Version:
    pyproject = tomllib.loads((REPO_ROOT / "pyproject.toml").read_text())
    for line in pyproject["project"]["dependencies"]:
        requirement = Requirement(line)
        if requirement.name == name:
            floors = [Version(s.version) for s in requirement.specifier if s.operator == ">="]
            assert floors, f"{name} has no >= floor in pyproject.toml"
            return max(floors)
    raise AssertionError(f"{name} is not a runtime dependency in pyproject.toml")


def test_committed_modules_match_a_fresh_protoc_run(tmp_path: Path) -> None:
    generate(tmp_path)
    for name in OUTPUTS:
        committed = (PACKAGE_DIR / name).read_text()
        fresh = (tmp_path / name).read_text()
        assert _without_stamps(committed) == _without_stamps(fresh), (
            f"controller/grpc_api/{name} is stale: run `python -m controller.grpc_api.codegen`")


def test_runtime_floors_cover_the_generated_code() -> None:
    grpc_stamp = GRPC_STAMP.search((PACKAGE_DIR / "sdqn_pb2_grpc.py").read_text())
    protobuf_stamp = PROTOBUF_STAMP.search((PACKAGE_DIR / "sdqn_pb2.py").read_text())
    assert grpc_stamp is not None and protobuf_stamp is not None
    assert _floor("grpcio") >= Version(grpc_stamp.group(1))
    assert _floor("protobuf") >= Version(".".join(protobuf_stamp.groups()))


def test_generated_modules_import_from_the_package() -> None:
    from controller.grpc_api.stubs import load

    pb, grpc_module = load()
    assert pb.DESCRIPTOR.name == "sdqn/v1/sdqn.proto"
    assert "ControllerService" in pb.DESCRIPTOR.services_by_name
    assert hasattr(grpc_module, "ControllerServiceStub")
