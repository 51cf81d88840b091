"""PyTorch interop: reading the reference checkpoints and importing their weights."""
