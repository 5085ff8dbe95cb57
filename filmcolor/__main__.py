"""``python -m filmcolor`` and the ``filmcolor`` command.

Loading the commands (click, rich, torch, PyAV) takes a second or two; a Ctrl-C then used to print Python's
29-line traceback. Here it is one line, as it is once a command runs.
"""

import os
import signal
import sys

EXIT_INTERRUPTED = 130  # filmcolor.cli's, which is what is still loading when this one is needed


def _open_standard_streams() -> None:
    """Standard input, output and error closed when the process started (`2>&-`, some daemons) are opened
    on /dev/null: Python leaves sys.stderr None then, and every photo failed unseen with exit 1 (an audit);
    and a file opened later would take the number 2 and receive the native libraries' messages."""
    for fd, mode, name in ((0, os.O_RDONLY, "stdin"), (1, os.O_WRONLY, "stdout"), (2, os.O_WRONLY, "stderr")):
        try:
            os.fstat(fd)
        except OSError:
            null = os.open(os.devnull, mode)
            if null != fd:
                os.dup2(null, fd)
                os.close(null)
            if getattr(sys, name) is None:
                setattr(sys, name, open(fd, "r" if fd == 0 else "w", closefd=False))


def run() -> None:
    _open_standard_streams()
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
