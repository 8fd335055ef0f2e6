"""The pydantic forms people fill in. Pure: no I/O."""
