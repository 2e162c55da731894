"""FrameWorker: the newest frame wins, stale frames are dropped and counted, errors are
survived, stop is prompt. No ROS."""

from __future__ import annotations

import threading
import time

import pytest

from affect_perception.serving.frame_worker import FrameWorker, WorkerCounts

# Longest wait for any worker event in these tests, in seconds.
WAIT_S = 5.0


def wait_for(condition, timeout: float = WAIT_S) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.002)
    return condition()


class GatedHandler:
    """Records frames; blocks on each frame until released, to make the worker busy."""

    def __init__(self) -> None:
        self.handled: list[int] = []
        self.started = threading.Semaphore(0)
        self.release = threading.Semaphore(0)

    def __call__(self, frame: int) -> None:
        self.started.release()
        assert self.release.acquire(timeout=WAIT_S)
        self.handled.append(frame)


@pytest.fixture
def gated():
    handler = GatedHandler()
    errors: list[tuple[int, Exception]] = []
    worker = FrameWorker(handler, lambda f, e: errors.append((f, e)))
    worker.start()
    yield worker, handler, errors
    for _ in range(10):
        handler.release.release()
    assert worker.stop(WAIT_S)


def test_frames_arriving_while_busy_keep_only_the_newest(gated) -> None:
    worker, handler, _ = gated
    assert worker.submit(1)
    assert handler.started.acquire(timeout=WAIT_S)  # the worker holds frame 1
    assert worker.submit(2)
    assert not worker.submit(3)  # replaces 2
    assert not worker.submit(4)  # replaces 3
    handler.release.release()
    assert handler.started.acquire(timeout=WAIT_S)
    handler.release.release()
    assert wait_for(lambda: len(handler.handled) == 2)
    assert handler.handled == [1, 4]
    assert worker.counts() == WorkerCounts(received=4, dropped=2, handled=2, failed=0)


def test_a_failing_frame_is_reported_and_the_worker_goes_on() -> None:
    handled: list[int] = []
    errors: list[tuple[int, Exception]] = []

    def handle(frame: int) -> None:
        if frame % 2:
            raise ValueError(f"bad frame {frame}")
        handled.append(frame)

    worker = FrameWorker(handle, lambda f, e: errors.append((f, e)))
    worker.start()
    try:
        for frame in range(6):
            worker.submit(frame)
            assert wait_for(lambda f=frame: len(handled) + len(errors) == f + 1)
    finally:
        assert worker.stop(WAIT_S)
    assert handled == [0, 2, 4]
    assert [(f, str(e)) for f, e in errors] == [
        (1, "bad frame 1"),
        (3, "bad frame 3"),
        (5, "bad frame 5"),
    ]
    assert worker.counts() == WorkerCounts(received=6, dropped=0, handled=3, failed=3)


def test_a_fast_stream_is_handled_in_order_with_bounded_backlog() -> None:
    """A producer far faster than the handler: frames handled only ever move forward, and
    every frame is handled, dropped, or (at most one) still waiting."""
    handled: list[int] = []
    worker = FrameWorker(
        lambda f: (time.sleep(0.002), handled.append(f)),
        lambda f, e: pytest.fail(f"unexpected error {e}"),
    )
    worker.start()
    try:
        for frame in range(2000):
            worker.submit(frame)
        assert wait_for(lambda: handled and handled[-1] == 1999)
    finally:
        assert worker.stop(WAIT_S)
    counts = worker.counts()
    assert handled == sorted(set(handled))
    assert counts.received == 2000
    assert counts.handled + counts.dropped == 2000
    assert counts.dropped > 1000  # the handler is about 100 times slower than the producer


def test_stop_discards_the_waiting_frame_and_ends_after_the_frame_in_hand(gated) -> None:
    worker, handler, _ = gated
    worker.submit(1)
    assert handler.started.acquire(timeout=WAIT_S)
    worker.submit(2)  # waits in the slot
    stopper = threading.Thread(target=worker.stop, args=(WAIT_S,))
    stopper.start()
    time.sleep(0.2)  # let stop() empty the slot (it takes a free lock) before frame 1 ends
    handler.release.release()
    stopper.join(WAIT_S)
    assert not stopper.is_alive()
    assert not worker.alive
    assert handler.handled == [1]


def test_stop_of_a_worker_that_never_got_a_frame_is_immediate() -> None:
    worker = FrameWorker(lambda f: None, lambda f, e: None)
    worker.start()
    start = time.monotonic()
    assert worker.stop(WAIT_S)
    assert time.monotonic() - start < 0.5


def test_discard_drops_the_waiting_frame_and_the_worker_goes_on(gated) -> None:
    worker, handler, _ = gated
    assert not worker.discard()  # nothing waiting
    worker.submit(1)
    assert handler.started.acquire(timeout=WAIT_S)
    worker.submit(2)  # waits in the slot
    assert worker.discard()
    handler.release.release()  # frame 1 (in hand) is finished
    assert wait_for(lambda: handler.handled == [1])
    worker.submit(3)
    assert handler.started.acquire(timeout=WAIT_S)
    handler.release.release()
    assert wait_for(lambda: handler.handled == [1, 3])
    assert worker.counts() == WorkerCounts(received=3, dropped=0, handled=2, failed=0)


class MalformedGate:
    """A worker whose handler holds its first frame until `run` releases it, and fails on
    negative frames (malformed messages that only decoding finds out)."""

    def __init__(self) -> None:
        self.handled: list[int] = []
        self.errors: list[int] = []
        self._busy = threading.Event()
        self._go = threading.Event()
        self.worker = FrameWorker(self._handle, lambda f, e: self.errors.append(f))

    def _handle(self, frame: int) -> None:
        if not self._busy.is_set():
            self._busy.set()
            assert self._go.wait(WAIT_S)
        if frame < 0:
            raise ValueError("malformed")
        self.handled.append(frame)

    def run(self, first: int, *rest: int) -> None:
        """Submit ``first``; once the worker holds it, submit ``rest``, then release it."""
        self.worker.submit(first)
        assert self._busy.wait(WAIT_S)
        for frame in rest:
            self.worker.submit(frame)
        self._go.set()


@pytest.fixture
def malformed():
    gate = MalformedGate()
    gate.worker.start()
    yield gate
    assert gate.worker.stop(WAIT_S)


def test_a_failing_frame_does_not_cost_the_frame_it_replaced(malformed) -> None:
    """Issue 22: a malformed message that replaced the good frame waiting in the slot fails;
    the worker then handles the good frame instead of losing it."""
    worker = malformed.worker
    # 2 good, waits in the slot; -1 bad, replaces 2 (kept as the backup); -2 bad, replaces -1
    # (dropped; the backup stays 2)
    malformed.run(1, 2, -1, -2)
    assert wait_for(lambda: worker.counts().handled + worker.counts().failed == 3)
    assert malformed.handled == [1, 2] and malformed.errors == [-2]
    assert worker.counts() == WorkerCounts(received=4, dropped=1, handled=2, failed=1)
    worker.submit(3)
    assert wait_for(lambda: malformed.handled == [1, 2, 3])


def test_two_good_frames_waiting_in_turn_then_bad_ones_answer_the_first(malformed) -> None:
    """The one-backup limit: the worker still busy as two good frames arrive, then bad ones;
    the first good frame is the backup and is answered, the second dropped (one of the two,
    as the slot alone would answer without the bad messages)."""
    worker = malformed.worker
    malformed.run(0, 1, 2, -1, -2)  # 1 waits, 2 replaces it (1 the backup), bad ones follow
    assert wait_for(lambda: worker.counts().handled + worker.counts().failed == 3)
    assert malformed.handled == [0, 1] and malformed.errors == [-2]
    assert worker.counts() == WorkerCounts(received=5, dropped=2, handled=2, failed=1)
