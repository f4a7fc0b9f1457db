"""The development database: SecantusDB, a MongoDB-wire server on WiredTiger, as a process.

`servers` knows the two servers and picks one, `build` builds the Rust one once per machine,
`process` starts and stops them. `python -m scripts.devdb build` is what `make` calls.
"""
