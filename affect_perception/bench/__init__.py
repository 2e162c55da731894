"""Benchmarks: side-by-side speed ratios, the FLOP limit, end-to-end rate, memory and soak."""
