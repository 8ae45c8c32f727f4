"""The library version, single-sourced for the package metadata and the wire."""

__version__ = "0.1.0"
