"""wfsync: workflows as code for the Indigenius Workflows API."""

import sys

__version__ = "0.1.0"
__all__ = ["__version__"]

# httpx imports its own command line (and with it rich and pygments, when they happen to be
# installed) unless that import fails: about 90 ms of every start that talks to the API, for
# nothing wfsync uses. Only httpx's optional CLI module is affected.
sys.modules.setdefault("httpx._main", None)  # type: ignore[arg-type]
