"""Small shared utilities: argument checks, atomic files, batch-norm statistics, hashing, label files, parameter counts."""
