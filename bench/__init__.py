"""Benchmarks: one script per figure, each printing it and writing bench/results/*.json."""
