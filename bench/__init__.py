"""Benchmarks (run with ``make bench`` or ``PYTHONPATH=. .venv/bin/python bench/<name>.py``)."""
