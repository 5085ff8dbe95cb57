"""``python -m filmcolor`` and the ``filmcolor`` command.

Loading the commands (click, rich, torch, PyAV) takes a second or two; a Ctrl-C then used to print Python's
29-line traceback. Here it is one line, as it is once a command runs.
"""

import os
import signal
import sys

EXIT_INTERRUPTED = 130  # filmcolor.cli's, which is what is still loading when this one is needed


def run() -> None:
    # While the modules load, Ctrl-C is only noted: a KeyboardInterrupt raised inside an extension's C++
    # initialisation aborts the process (pybind11's "terminate called", exit -6, seen in a fresh install).
    # SIGTERM too (a service stopped, a timeout), as the commands take it (it ended the process with 143; an audit)
    interrupted: list[bool] = []
    previous = {sig: signal.signal(sig, lambda signum, frame: interrupted.append(True))
                for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        from filmcolor.cli import main

        main.preload(sys.argv[1:])  # the command's own modules (torch, for some)
    except KeyboardInterrupt:  # raised by Python code on the way (before the handler above, or by a hook)
        interrupted.append(True)
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    if interrupted:
        sys.stderr.write("error: interrupted while starting\n")
        sys.stderr.flush()
        os._exit(EXIT_INTERRUPTED)  # nothing is open yet; a half-imported module's exit hooks are skipped
    try:
        main()
    except SystemExit as done:
        if done.code != EXIT_INTERRUPTED:
            raise
        # Interrupted, and the partial outputs already removed on the way here. Threads inside FFmpeg or ONNX
        # Runtime may still be winding down; an interpreter finalising under them can abort ("terminate called
        # without an active exception", exit 134), so the process ends here, as it is.
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(EXIT_INTERRUPTED)


if __name__ == "__main__":
    run()
