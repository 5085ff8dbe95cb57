"""``python -m filmcolor`` and the ``filmcolor`` command.

Loading the commands (click, rich, torch, PyAV) takes a second or two; a Ctrl-C then used to print Python's
29-line traceback. Here it is one line, as it is once a command runs.
"""

import sys

EXIT_INTERRUPTED = 130  # filmcolor.cli's, which is what is still loading when this one is needed


def run() -> None:
    try:
        from filmcolor.cli import main
    except KeyboardInterrupt:
        sys.stderr.write("error: interrupted while starting\n")
        raise SystemExit(EXIT_INTERRUPTED) from None
    main()


if __name__ == "__main__":
    run()
