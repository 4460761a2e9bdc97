"""Command-line clients of a running controller (`sdqn request ...`, `sdqn commit`, ...)."""
