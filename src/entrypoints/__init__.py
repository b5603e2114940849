"""Entrypoints: the HTTP application, the command line and (later) the worker."""
