"""How every console script starts: flags defined at start-up and listed by `--help`."""

import functools
import os
import sys
from collections.abc import Callable

from absl import app
from absl import flags

from tsm_tf.utils.native_stderr import verbose


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
        app.run(_without_traceback(main))
    else:
        app.run(_without_traceback(main), flags_parser=flags_parser)


def _without_traceback(main: Callable[[list[str]], None]) -> Callable[[list[str]], None]:
    """`main`, printing the library's input errors (ValueError, OSError) as one line and exiting 1.

    Their messages say what was expected and how to fix it; the traceback
    above them would only bury that. `TSM_TF_VERBOSE=1` keeps it.
    """

    @functools.wraps(main)
    def run(argv):
        try:
            return main(argv)
        except (ValueError, OSError) as error:
            if verbose():
                raise
            program = os.path.basename(sys.argv[0])
            print(f"{program}: error: {error}", file=sys.stderr)
            print(f"({type(error).__name__}; TSM_TF_VERBOSE=1 shows where.)", file=sys.stderr)
            sys.exit(1)

    return run
