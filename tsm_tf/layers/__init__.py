"""Keras layers of a TSM: the temporal shifts, the segment reshapes, normalization."""
