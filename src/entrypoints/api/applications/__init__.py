"""Market applications: creation, reading and document downloads."""
