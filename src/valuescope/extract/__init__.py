"""extract stage package."""
