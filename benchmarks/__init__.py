"""Scripts that print the figures in BENCHMARKS.md."""
