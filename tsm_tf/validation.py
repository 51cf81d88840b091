"""Argument checks shared by layers and builders, with errors that echo the value."""


def check_positive_int(name, value):
    """Raises `ValueError` unless `value` is a positive int (bools rejected)."""
    if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
        raise ValueError(
            f"`{name}` must be a positive integer. Received: {name}={value!r}"
        )


def check_choice(name, value, choices):
    """Raises `ValueError` unless `value` is one of `choices`."""
    if value not in choices:
        expected = ", ".join(repr(choice) for choice in choices)
        raise ValueError(
            f"`{name}` must be one of {expected}. Received: {name}={value!r}"
        )
