"""`FrameWorker`: a one-slot latest-frame holder drained by one worker thread (no ROS).

The subscription callback only calls :meth:`FrameWorker.submit`, which puts the frame in the
slot under a lock; a frame still waiting there is replaced. The worker thread takes the newest
frame and handles it (decode, pipeline, publish). So at most one frame waits to be handled,
memory stays bounded, and latency never grows when frames come faster than they can be
handled. The first frame replaced since the worker last took one is kept aside as a backup:
when the newest frame fails (a malformed message that only decoding finds out) and nothing
newer has come, the worker handles the backup instead, so bad messages never cost the good
frame they replaced. One backup is kept: when two good frames wait in turn (the worker late
to take the first) and bad ones follow, the first is the backup and is answered, the second
dropped, as one of them would be without the bad messages. A frame counts as dropped once it
can no longer be handled.
"""

from __future__ import annotations

import dataclasses
import threading
from dataclasses import dataclass
from typing import Callable, Generic, TypeVar

T = TypeVar("T")


@dataclass
class WorkerCounts:
    """Running totals since start.

    Attributes:
        received: frames submitted.
        dropped: frames replaced in the slot by a newer one and not handled (not needed as
            the backup of a newer frame that failed).
        handled: frames the handler finished without raising.
        failed: frames whose handler raised (passed to ``on_error``), and frames refused
            before the slot.
    """

    received: int = 0
    dropped: int = 0
    handled: int = 0
    failed: int = 0


class FrameWorker(Generic[T]):
    """Hands the newest submitted frame to ``handle`` on a worker thread.

    Args:
        handle: called on the worker thread with each frame taken from the slot.
        on_error: called on the worker thread with the frame and the exception when
            ``handle`` raises; the worker then goes on with the next frame.
        name: the thread's name.
    """

    def __init__(
        self,
        handle: Callable[[T], None],
        on_error: Callable[[T, Exception], None],
        name: str = "frame_worker",
    ) -> None:
        self._handle = handle
        self._on_error = on_error
        self._wake = threading.Condition()
        self._frame: T | None = None
        self._waiting = False
        self._backup: T | None = None  # the first frame replaced since the last take
        self._has_backup = False
        self._stopping = False
        self._counts = WorkerCounts()
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)

    def start(self) -> None:
        """Start the worker thread."""
        self._thread.start()

    def submit(self, frame: T) -> bool:
        """Put ``frame`` in the slot; returns False when it replaced a frame still waiting."""
        with self._wake:
            replaced = self._waiting
            if replaced and self._has_backup:
                self._counts.dropped += 1  # the replaced frame goes; the backup stays
            elif replaced:
                self._backup, self._has_backup = self._frame, True
            self._frame, self._waiting = frame, True
            self._counts.received += 1
            self._wake.notify()
        return not replaced

    def refuse(self) -> None:
        """Count a frame refused before the slot (a malformed message checked in the
        subscription callback): received and failed, and the waiting frame stays."""
        with self._wake:
            self._counts.received += 1
            self._counts.failed += 1

    def counts(self) -> WorkerCounts:
        """A consistent copy of the counters."""
        with self._wake:
            return dataclasses.replace(self._counts)

    def discard(self) -> bool:
        """Drop the frame waiting in the slot, if any, without counting it (e.g. when the node
        stops processing); returns whether one was waiting. The frame in hand is finished."""
        with self._wake:
            waiting = self._waiting
            self._frame, self._waiting = None, False
            self._backup, self._has_backup = None, False
        return waiting

    @property
    def alive(self) -> bool:
        """The worker thread is running."""
        return self._thread.is_alive()

    def stop(self, timeout: float = 5.0) -> bool:
        """Stop after the frame in hand (a frame still waiting is discarded, not counted).

        Returns:
            True when the thread has ended within ``timeout`` seconds.
        """
        with self._wake:
            self._stopping = True
            self._frame, self._waiting = None, False
            self._backup, self._has_backup = None, False
            self._wake.notify()
        if self._thread.is_alive():
            self._thread.join(timeout)
        return not self._thread.is_alive()

    def _take(self) -> tuple[bool, T | None, list[T]]:
        """Wait for a frame; (running, the newest frame, [its backup] or []); running is
        False once stopping."""
        with self._wake:
            self._wake.wait_for(lambda: self._waiting or self._stopping)
            if self._stopping:
                return False, None, []
            backup = [self._backup] if self._has_backup else []
            frame, self._frame, self._waiting = self._frame, None, False
            self._backup, self._has_backup = None, False
            return True, frame, backup

    def _run(self) -> None:
        while True:
            running, frame, backup = self._take()
            if not running:
                return
            handled = self._try(frame)  # type: ignore[arg-type]
            if backup:
                with self._wake:
                    newer = self._waiting
                if handled or newer:
                    self._count("dropped")
                else:
                    self._try(backup[0])

    def _try(self, frame: T) -> bool:
        """Handle one frame; False when it failed (counted, passed to ``on_error``)."""
        try:
            self._handle(frame)
        except Exception as err:  # one bad frame must not end the worker
            self._count("failed")
            self._on_error(frame, err)
            return False
        self._count("handled")
        return True

    def _count(self, name: str) -> None:
        with self._wake:
            setattr(self._counts, name, getattr(self._counts, name) + 1)
