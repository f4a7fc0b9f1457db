"""Which topology this pass of the suite runs on (see tests/conftest.py and the Makefile)."""

import os

# `make test` runs the suite on a one-node replica set, then the tests marked `topologies`
# with DEVDB_TOPOLOGY=standalone, where the app has no transactions.
STANDALONE = os.environ.get("DEVDB_TOPOLOGY", "replica-set") == "standalone"
