"""Northbound gRPC API (package sdqn.v1) for scripts and the `sdqn` CLI.

The proto lives in `proto/sdqn/v1/sdqn.proto`; `codegen.load()` compiles it with
grpcio-tools into a build directory on first use (generated code is not committed).
"""
