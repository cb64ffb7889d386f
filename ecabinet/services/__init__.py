"""Use cases: load state, ask the domain, persist in one transaction, return the events."""
