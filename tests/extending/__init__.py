"""The worked examples of docs/extending.md, as real plugins and tests."""
