"""Tests of the scripts and the tooling around the app: the demo seed, the invariant
checker, the synthetic data and the benchmark's callers, and mypy's view of the documents.
Those that use the database get the suite's fixtures (tests/conftest.py); the others start
none."""
