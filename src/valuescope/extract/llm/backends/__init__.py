"""backends stage package."""
