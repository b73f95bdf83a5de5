"""sigsync: server-side email signatures for Microsoft 365."""

from sigsync._sigsync import __version__

__all__ = ["__version__"]
