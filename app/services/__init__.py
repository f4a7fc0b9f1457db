"""Multi-step domain operations, written to be safe with or without transactions."""
