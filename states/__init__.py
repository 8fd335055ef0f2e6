"""The domain: procedures declared as data, jurisdiction profiles, rules. No I/O."""
