"""Test support shared by the tests, the crash harness and the benchmarks (never shipped)."""
