"""Reconciliation: the ledger (built from the streams) always converges to the venue."""
