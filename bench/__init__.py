"""Benchmarks that print figures next to a bare baseline run in the same process tree."""
