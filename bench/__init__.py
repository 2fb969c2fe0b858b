"""Realtime benchmarks: bench/README.md."""
