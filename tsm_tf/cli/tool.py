"""How every console script starts: flags defined at start-up and listed by `--help`."""

import sys
from collections.abc import Callable

from absl import app
from absl import flags


def define_progress_flag() -> None:
    """`--progress`: bars on a terminal, a line every few seconds in logs; `--noprogress`: none."""
    flags.DEFINE_bool(
        "progress",
        True,
        "Show progress: a bar on a terminal, else a line every TSM_TF_PROGRESS_SECONDS "
        "seconds (default 10) on stderr. --noprogress turns it off.",
    )


def run_tool(
    main: Callable[[list[str]], None],
    define_flags: Callable[[], None],
    flags_parser: Callable[[list[str]], list[str]] | None = None,
) -> None:
    """Defines the tool's flags, makes them the ones `--help` lists, and runs `main`.

    absl's `--help` lists the flags of the main module, which for a console
    script is the launcher that pip wrote, not the module that defines them.
    `flags_parser` replaces absl's (tsm-prepare passes unknown flags to Beam).
    """
    define_flags()
    defined = flags.FLAGS.flags_by_module_dict()
    for module in (define_flags.__module__, main.__module__):
        for flag in defined.get(module, []):
            flags.FLAGS.register_key_flag_for_module(sys.argv[0], flag)
    if flags_parser is None:
        app.run(main)
    else:
        app.run(main, flags_parser=flags_parser)
