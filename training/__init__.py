"""Training code (needs the [train] extra: torch, transformers, onnx). Not part of the runtime package."""
