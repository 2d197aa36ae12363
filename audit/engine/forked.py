"""One section in a forked child process, so two sections never share a GIL (issue 15).

Two sections on two threads of one process take turns on the GIL: a DP training loop beside a
thread running Python went from 0.44 s to 155 s (bench/README, "Speed"), and the many short
``nogil`` calls of scikit-learn and numpy convoy the same way. A forked child starts with the
parent's memory (the trained models, the splits, the imported libraries; copy-on-write, no
pickling, no re-import), runs the section on its own core, and sends its report back.

What crosses the pipe is only what this package itself made: progress tuples and the section's
report (or its exception), pickled by the child and read here. Nothing a user supplied is ever
unpickled: the user's data and model reach the child through ``fork``, not through the pipe.

Linux only (``fork`` is unsafe on macOS and missing on Windows): elsewhere, and on a cluster
(a forked Dask client is not usable), sections stay in threads.
"""

from __future__ import annotations

import ctypes
import multiprocessing
import os
import pickle
import signal
import sys
import time
import traceback
from collections.abc import Callable
from typing import Any

_PR_SET_PDEATHSIG = 1
_PR_SET_NAME = 15


def available() -> bool:
    """Whether sections can run in forked processes here."""
    return sys.platform.startswith("linux") and "fork" in multiprocessing.get_all_start_methods()


class SectionProcessDied(RuntimeError):
    """The child ended without a report (killed, out of memory, or a crash in native code)."""


class ChildTraceback(Exception):
    """The child's traceback as text, chained to the exception it raised, for the server log."""


def _die_with_parent(name: str) -> None:
    """Ask the kernel to kill this child when the thread that forked it ends: a cancelled job's
    worker is ended at once (``os._exit``), and its sections must not run on as orphans. The
    process is named after its section (``ps``, ``top`` and /proc/PID/comm show "audit-fairness")."""
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)
        libc.prctl(_PR_SET_NAME, ctypes.c_char_p(f"audit-{name}".encode("ascii", "replace")[:15]))
    except (OSError, AttributeError):  # not Linux's libc: the pipe's EOF still stops the parent waiting
        pass


def _send(conn, message: tuple) -> None:
    conn.send_bytes(pickle.dumps(message, protocol=pickle.HIGHEST_PROTOCOL))


def _child(work: Callable[[Callable[[float, str], None]], Any], conn, name: str = "section") -> None:
    _die_with_parent(name)
    try:
        t = time.perf_counter()
        out = work(lambda fraction, message: _send(conn, ("progress", float(fraction), str(message))))
        _send(conn, ("result", out, time.perf_counter() - t))
    except BaseException as exc:  # noqa: BLE001 - every failure goes back to the parent, which re-raises it
        text = traceback.format_exc()
        try:
            _send(conn, ("error", exc, text))
        except Exception:  # an exception that does not pickle: its type and message still go back
            _send(conn, ("error", RuntimeError(f"{type(exc).__name__}: {exc}"), text))
    finally:
        conn.close()


def _receive(reader) -> tuple:
    raw = reader.recv_bytes()
    try:
        return pickle.loads(raw)  # noqa: S301 - written by our own child (_send), never by a user
    except Exception as exc:  # e.g. an exception class whose __init__ does not take its args back
        return ("error", RuntimeError(f"the section's result could not be read back: {exc}"), "")


def run_forked(work: Callable[[Callable[[float, str], None]], Any], on_progress: Callable[[float, str], None],
               name: str = "section") -> tuple[Any, float]:
    """``work(progress)`` in a forked child; returns its value and the child's seconds.

    ``on_progress`` is called here (in the calling thread) for each progress message. An
    exception the child raised is raised here, chained to the child's traceback. When the
    caller stops waiting (an exception, a cancelled audit), the child is killed.
    """
    ctx = multiprocessing.get_context("fork")
    reader, writer = ctx.Pipe(duplex=False)
    for stream in (sys.stdout, sys.stderr):  # a buffer not flushed now would be written twice
        try:
            stream.flush()
        except (AttributeError, ValueError, OSError):
            pass
    proc = ctx.Process(target=_child, args=(work, writer, name), name=f"audit-{name}")
    proc.start()
    writer.close()  # the child holds the only writer: its exit gives EOF here
    try:
        while True:
            try:
                message = _receive(reader)
            except EOFError:
                proc.join()
                raise SectionProcessDied(f"the {name} section's process ended without a report "
                                         f"(exit code {proc.exitcode}; killed or out of memory?)") from None
            if message[0] == "progress":
                on_progress(message[1], message[2])
            elif message[0] == "result":
                return message[1], message[2]
            else:
                raise message[1] from ChildTraceback(message[2])
    finally:
        reader.close()
        if proc.is_alive():
            proc.kill()
        proc.join()
        proc.close()


__all__ = ["ChildTraceback", "SectionProcessDied", "available", "run_forked"]
