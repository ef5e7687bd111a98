"""taxonomy stage package."""
