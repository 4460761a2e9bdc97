"""Northbound gRPC API (package sdqn.v1) for scripts and the `sdqn` CLI.

The proto lives in `proto/sdqn/v1/sdqn.proto`; its generated modules (`sdqn_pb2*.py`) are
committed next to this file and reached through `stubs.load()`; `codegen.py` regenerates
them after the proto changes.
"""
