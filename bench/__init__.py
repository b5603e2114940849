"""Benchmarks of the Passe Marché API (`make bench`, see docs/BENCHMARKS.md)."""
