"""The version of segshift, in a leaf module that every layer may import."""

__version__ = "1.0.0"
