"""privacy stage package."""
