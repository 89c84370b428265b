"""wfsync: workflows as code for the Indigenius Workflows API."""

__version__ = "0.1.0"
__all__ = ["__version__"]
