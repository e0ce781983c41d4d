"""The version of recframe, in one place."""

__version__ = "0.1.0"
