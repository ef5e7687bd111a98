"""valuescope: measure which values an AI assistant expresses in real conversations."""

__version__ = "0.1.0"
