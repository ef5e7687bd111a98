"""offline stage package."""
