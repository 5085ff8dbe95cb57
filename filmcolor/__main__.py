"""``python -m filmcolor`` and the ``filmcolor`` command.

Loading the commands (click, rich, torch, PyAV) takes a second or two; a Ctrl-C then used to print Python's
29-line traceback. Here it is one line, as it is once a command runs.
"""

import os
import sys

EXIT_INTERRUPTED = 130  # filmcolor.cli's, which is what is still loading when this one is needed


def run() -> None:
    try:
        from filmcolor.cli import main
    except KeyboardInterrupt:
        sys.stderr.write("error: interrupted while starting\n")
        sys.stderr.flush()
        # Nothing is open yet, and a half-imported module's exit hooks may be interrupted again (seen in a
        # fresh install: the process then died of SIGINT, exit -2): leave at once.
        os._exit(EXIT_INTERRUPTED)
    main()


if __name__ == "__main__":
    run()
