"""Tamper evidence: audit events and ledger entries in an append-only Merkle tree log (RFC 9162)
whose heads are signed with a key the database does not hold, published as C2SP checkpoints.

merkle (the math), leaves (what a leaf says), checkpoint (signed notes), keys (the key and witness
files), log (sequencing, heads, proofs), verify (the whole log against its rows), check (a
stand-alone checker for anyone holding a checkpoint).
"""
