"""Benchmarks and the naive baseline they compare against."""
