"""How every console script starts: flags defined at start-up and listed by `--help`."""

import functools
import os
import re
import sys
from collections.abc import Callable

from absl import app
from absl import flags

from tsm_tf.utils.native_stderr import verbose

# -h is read as --help before parsing.
HELP_FLAGS = ("-?", "--help", "-help", "--helpshort", "--helpfull", "--helpxml")
# absl's words for a required flag left out.
_REQUIRED = re.compile(r"flag --(\w+)=None: Flag --\1 must have a value other than None\.")


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
    for module in (define_flags.__module__, main.__module__, __name__):  # __name__: --progress
        for flag in defined.get(module, []):
            flags.FLAGS.register_key_flag_for_module(sys.argv[0], flag)
    if flags_parser is None:
        main = _without_positional_arguments(main)
    app.run(_without_traceback(main), flags_parser=_explained(flags_parser or flags.FLAGS))


def parse_known_flags(argv: list[str]) -> list[str]:
    """A `flags_parser` that leaves the flags a tool does not define in argv, for Beam's
    PipelineOptions (tsm-prepare and tsm-predict with --runner)."""
    return flags.FLAGS(argv, known_only=True)


def _without_positional_arguments(main: Callable[[list[str]], None]) -> Callable[[list[str]], None]:
    """`main`, refusing arguments that are not flags: `--video a.mp4 b.mp4` would otherwise
    stream a.mp4 alone and exit 0."""

    @functools.wraps(main)
    def run(argv):
        if len(argv) > 1:
            raise app.UsageError(
                f"Unexpected arguments: {' '.join(argv[1:])}. Every input is a flag "
                "(--name=value), and each flag takes one value."
            )
        return main(argv)

    return run


def _usage_error(message: str, exit_code: int = 1) -> None:
    """Prints a usage error as two short lines, not absl's listing of every flag, and exits."""
    program = os.path.basename(sys.argv[0])
    print(f"{program}: error: {message}", file=sys.stderr)
    print(f"Run `{program} --help` for the flags.", file=sys.stderr)
    sys.exit(exit_code)


def _explained(flags_parser: Callable[[list[str]], list[str]]) -> Callable[[list[str]], list[str]]:
    """`flags_parser`, with a bad flag reported as a usage error and help ending in status 0.

    absl exits 1 after printing help, which scripts read as a failure.
    """

    def parse(argv):
        argv = ["--help" if argument == "-h" else argument for argument in argv]
        try:
            return flags_parser(argv)
        except flags.Error as error:
            _usage_error(" ".join(_REQUIRED.sub(r"--\1 is required.", str(error)).splitlines()))
        except SystemExit as exit_request:
            if exit_request.code == 1 and any(argument in HELP_FLAGS for argument in argv[1:]):
                sys.exit(0)
            raise

    return parse


def _without_traceback(main: Callable[[list[str]], None]) -> Callable[[list[str]], None]:
    """`main`, printing usage and input errors (ValueError, OSError, a diverged training's
    FloatingPointError) as one line and exiting 1.

    Their messages say what was expected and how to fix it, as do the
    library's ImportErrors for optional dependencies (which extra to install);
    the traceback above them would only bury that. `TSM_TF_VERBOSE=1` keeps it.
    """

    @functools.wraps(main)
    def run(argv):
        try:
            return main(argv)
        except app.UsageError as error:
            _usage_error(str(error), error.exitcode)
        except KeyboardInterrupt:
            if verbose():
                raise
            print(f"{os.path.basename(sys.argv[0])}: interrupted", file=sys.stderr)
            sys.exit(130)
        except (ValueError, OSError, ImportError, FloatingPointError) as error:
            if verbose():
                raise
            program = os.path.basename(sys.argv[0])
            print(f"{program}: error: {error}", file=sys.stderr)
            print(f"({type(error).__name__}; TSM_TF_VERBOSE=1 shows where.)", file=sys.stderr)
            sys.exit(1)

    return run
