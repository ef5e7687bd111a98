"""llm stage package."""
