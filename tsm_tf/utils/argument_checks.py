"""Argument checks shared by layers and builders, with errors that echo the value."""


def check_positive_int(name, value):
    """Raises `ValueError` unless `value` is a positive int (bools rejected)."""
    if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
        raise ValueError(f"`{name}` must be a positive integer. Received: {name}={value!r}")


def check_choice(name, value, choices):
    """Raises `ValueError` unless `value` is one of `choices`."""
    if value not in choices:
        expected = ", ".join(repr(choice) for choice in choices)
        raise ValueError(f"`{name}` must be one of {expected}. Received: {name}={value!r}")


def check_shift_div(value, allow_zero=False):
    """Raises `ValueError` unless `value` is an int of at least 2 (or 0 when allowed).

    1 / shift_div is the fraction of channels shifted per direction; 0, where
    allowed, turns the shift off (the TSN baseline).
    """
    valid = (
        not isinstance(value, bool)
        and isinstance(value, int)
        and (value >= 2 or (allow_zero and value == 0))
    )
    if not valid:
        zero = "0 (no shift: the TSN baseline) or " if allow_zero else ""
        raise ValueError(
            f"`shift_div` must be {zero}an integer of at least 2 (the shifted fraction "
            "of channels per direction is 1 / shift_div; 8 is the paper's setting). "
            f"Received: shift_div={value!r}"
        )
