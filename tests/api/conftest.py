"""Tests of the HTTP API: the contract, the policy through it, the tooling that drives it."""
