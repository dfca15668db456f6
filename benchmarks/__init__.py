"""Benchmarks: run with `.venv/bin/python -m benchmarks [NAME ...]`; results go to BENCHMARKS.md."""
