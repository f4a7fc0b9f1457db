"""Tests of the engine and the policy on the real database, with no HTTP: the central
property on random worlds, and a resource type added by policy alone. The fixtures they use
(`app`, `world`) are the suite's, in tests/conftest.py."""
