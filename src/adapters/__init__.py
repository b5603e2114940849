"""Adapters: the concrete implementations of the ports (database, storage, clock, signing...)."""
