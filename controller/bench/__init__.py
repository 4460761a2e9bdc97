"""`sdqn bench …`: benchmarks that print figures (never tests).

Application layer: a bench may import any product package; no product module imports
this package (tests/test_layers.py checks it). One module per `sdqn bench` command.
"""
