"""The sdqn.v1 proto is `buf lint` clean under the STANDARD rules, and every service,
rpc, message, field, enum and enum value carries a comment that says what it means.

The documentation check reads protoc's own parse (a FileDescriptorSet with source code
info, written by grpcio-tools' protoc in a child process), so comments are attached to
the elements exactly as protoc and every generator see them."""

from __future__ import annotations

import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from google.protobuf import descriptor_pb2

from controller.grpc_api.codegen import PROTO, PROTO_ROOT

# Field numbers of FileDescriptorProto / DescriptorProto / EnumDescriptorProto /
# ServiceDescriptorProto, as SourceCodeInfo.Location.path uses them (descriptor.proto).
MESSAGE, ENUM, SERVICE = 4, 5, 6
FIELD, NESTED, NESTED_ENUM = 2, 3, 4
ENUM_VALUE, METHOD = 2, 2


def _buf() -> str:
    """buf from the dev extra (PyPI buf-bin installs it beside the interpreter)."""
    beside = Path(sys.executable).parent / "buf"
    found = str(beside) if beside.exists() else shutil.which("buf")
    if found is None:
        pytest.fail("buf not found: pip install -e '.[dev]' installs it (PyPI buf-bin)")
    return found


def test_buf_lint_standard_is_clean() -> None:
    done = subprocess.run([_buf(), "lint"], cwd=PROTO_ROOT, capture_output=True, text=True,
                          timeout=120, check=False)
    config = (PROTO_ROOT / "buf.yaml").read_text()
    assert "    - STANDARD" in config.splitlines()       # the rule set, none switched off
    assert "ignore" not in config and "except" not in config
    assert done.returncode == 0 and not done.stdout.strip(), done.stdout + done.stderr


def _descriptor(tmp_path: Path) -> descriptor_pb2.FileDescriptorProto:
    import grpc_tools

    include = Path(grpc_tools.__file__).resolve().parent / "_proto"
    out = tmp_path / "sdqn.pb"
    subprocess.run([sys.executable, "-m", "grpc_tools.protoc", f"-I{PROTO_ROOT}",
                    f"-I{include}", "--include_source_info", f"--descriptor_set_out={out}",
                    str(PROTO)], check=True, timeout=120, capture_output=True)
    files = descriptor_pb2.FileDescriptorSet.FromString(out.read_bytes())
    return files.file[0]


def _elements(proto: descriptor_pb2.FileDescriptorProto
              ) -> Iterator[tuple[tuple[int, ...], str]]:
    """(source path, full name) of every element that must be documented."""
    def message(msg: descriptor_pb2.DescriptorProto, path: tuple[int, ...], prefix: str
                ) -> Iterator[tuple[tuple[int, ...], str]]:
        name = f"{prefix}.{msg.name}"
        yield path, f"message {name}"
        for i, field in enumerate(msg.field):
            yield (*path, FIELD, i), f"field {name}.{field.name}"
        for i, nested in enumerate(msg.nested_type):
            yield from message(nested, (*path, NESTED, i), name)
        for i, enum_type in enumerate(msg.enum_type):
            yield from enum(enum_type, (*path, NESTED_ENUM, i), name)

    def enum(e: descriptor_pb2.EnumDescriptorProto, path: tuple[int, ...], prefix: str
             ) -> Iterator[tuple[tuple[int, ...], str]]:
        yield path, f"enum {prefix}.{e.name}"
        for i, value in enumerate(e.value):
            yield (*path, ENUM_VALUE, i), f"enum value {value.name}"

    package = proto.package
    for i, msg in enumerate(proto.message_type):
        yield from message(msg, (MESSAGE, i), package)
    for i, e in enumerate(proto.enum_type):
        yield from enum(e, (ENUM, i), package)
    for i, service in enumerate(proto.service):
        yield (SERVICE, i), f"service {package}.{service.name}"
        for j, method in enumerate(service.method):
            yield (SERVICE, i, METHOD, j), f"rpc {service.name}.{method.name}"


def test_every_element_is_documented(tmp_path: Path) -> None:
    proto = _descriptor(tmp_path)
    comments = {tuple(loc.path): (loc.leading_comments + loc.trailing_comments).strip()
                for loc in proto.source_code_info.location}
    elements = list(_elements(proto))
    assert len([e for e in elements if e[1].startswith("message ")]) >= 40
    undocumented = [name for path, name in elements if not comments.get(path)]
    assert not undocumented, f"undocumented in {PROTO.name}: {undocumented}"
    # Say what it means, not only its name: a comment is more than the field's own words.
    bare = [name for path, name in elements
            if comments.get(path, "").lower().rstrip(".").replace(" ", "_")
            == name.rsplit(".", 1)[-1].rsplit(" ", 1)[-1].lower()]
    assert not bare, f"comments that only repeat the name: {bare}"
