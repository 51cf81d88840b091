"""TFLite: export, the metadata contract, the interpreter wrapper and the streaming clients."""
