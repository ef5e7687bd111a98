"""report stage package."""
