"""Use cases: one function each, dependencies passed in, one unit of work committed once."""
