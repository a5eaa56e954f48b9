"""Tools for working with the system from outside: synthetic data for demos and benchmarks."""
