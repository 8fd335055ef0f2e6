"""Peer engines run side by side with ours: the same procedure, the same cases, the same database."""
