"""Application layer: one command = one database transaction."""
