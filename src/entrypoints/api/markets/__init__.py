"""Public markets: creation and reading."""
