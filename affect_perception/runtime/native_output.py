"""What native decoders write to stderr, caught and counted instead of printed.

libpng, libjpeg and OpenCV print their complaints about a damaged image straight to file
descriptor 2 ("libpng error: ...", "Corrupt JPEG data: ...", "[ WARN:0@...] global
grfmt_png.cpp ..."), past Python's logging and the node's throttle: 300 damaged frames made 300
lines. :class:`NativeOutput` points descriptor 2 at a temporary file around a native call,
counts the lines written there and keeps the last one; lines from ROS logging (another thread
may log meanwhile) are passed on to the real stderr unchanged.
"""

from __future__ import annotations

import os
import re
import sys
import tempfile
import threading
from collections.abc import Iterator
from contextlib import contextmanager

# A line of ROS's console logging ("[WARN] [1700000000.123] [name]: ..."): not native output.
ROS_LOG_LINE = re.compile(rb"^\[(DEBUG|INFO|WARN|ERROR|FATAL)\] \[\d+\.\d+\]")
STDERR_FD = 2


class NativeOutput:
    """Counts and swallows native stderr output written inside :meth:`captured` blocks.

    Attributes:
        count: native lines caught so far.
        last: the last one (for a log line), empty before any.
    """

    def __init__(self) -> None:
        self.count = 0
        self.last = ""
        self._lock = threading.Lock()
        self._file = tempfile.TemporaryFile()  # noqa: SIM115 - lives as long as the process

    @contextmanager
    def captured(self) -> Iterator[None]:
        """Send descriptor 2 to the capture file for the block (one block at a time)."""
        with self._lock:
            sys.stderr.flush()
            saved = os.dup(STDERR_FD)
            self._file.seek(0)
            self._file.truncate()
            os.dup2(self._file.fileno(), STDERR_FD)
            try:
                yield
            finally:
                os.dup2(saved, STDERR_FD)
                os.close(saved)
                self._collect()

    def _collect(self) -> None:
        self._file.seek(0)
        lines = self._file.read().splitlines()
        passed = [line for line in lines if ROS_LOG_LINE.match(line)]
        native = [line for line in lines if line.strip() and not ROS_LOG_LINE.match(line)]
        if passed:
            os.write(STDERR_FD, b"\n".join(passed) + b"\n")
        if native:
            self.count += len(native)
            self.last = native[-1].decode(errors="replace").strip()


# The process's one capture of the image decoders' output.
DECODERS = NativeOutput()
