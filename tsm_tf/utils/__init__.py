"""Small shared utilities: argument checks, atomic files, hashing, label files, parameter counts."""
