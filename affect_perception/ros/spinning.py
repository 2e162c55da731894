"""Start rclpy, spin a node until its work is done or a signal asks it to stop, and stop in order.

rclpy's own SIGINT/SIGTERM handling shuts the context down from a thread of its own and then
triggers every executor's signal guard condition; a program that tears its executor down as
soon as spinning ends can lose that race, and the process dies with SIGSEGV inside
``rcl_trigger_guard_condition`` (seen at about 1 in 10 SIGINTs to the node while frames were
flowing). It also leaves the node's worker publishing into a context that is already gone.
So the entry points turn rclpy's handlers off (:func:`init`) and handle the signals here, in
the main thread: a signal only sets :attr:`StopSignals.requested`, spinning ends within
:data:`POLL_S`, the program releases its node while the context is valid, then shuts rclpy
down.
"""

from __future__ import annotations

import signal
import threading
import time
from types import FrameType, TracebackType
from typing import Any

import rclpy
from rclpy.executors import ExternalShutdownException, SingleThreadedExecutor
from rclpy.node import Node
from rclpy.signals import SignalHandlerOptions
from rclpy.subscription import RCLError
from rclpy.task import Future

POLL_S = 0.1  # longest time between a signal and the end of spinning
SIGNALS = (signal.SIGINT, signal.SIGTERM)


def init(args: list[str] | None = None) -> None:
    """``rclpy.init`` for an entry point whose signals :class:`StopSignals` handles."""
    rclpy.init(args=args, signal_handler_options=SignalHandlerOptions.NO)


class StopSignals:
    """While entered (main thread only), SIGINT and SIGTERM set :attr:`requested` instead of
    interrupting the program; the previous handlers come back on exit."""

    def __init__(self) -> None:
        self.requested = threading.Event()
        self._previous: dict[int, Any] = {}

    def __enter__(self) -> StopSignals:
        for number in SIGNALS:
            self._previous[number] = signal.signal(number, self._on_signal)
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        for number, handler in self._previous.items():
            signal.signal(number, handler)
        self._previous.clear()

    def _on_signal(self, number: int, frame: FrameType | None) -> None:
        self.requested.set()


def spin_until_shutdown(
    node: Node,
    future: Future | None = None,
    timeout_sec: float | None = None,
    stop: threading.Event | None = None,
) -> None:
    """Spin ``node`` until ``future`` is done (never when None), ``timeout_sec`` passes,
    ``stop`` is set (e.g. :attr:`StopSignals.requested`) or its context is shut down.

    A context shut down between the executor's context check and its wait-set set-up
    surfaces as an RCLError about an invalid context: that too is a shutdown, while the same
    error with the context alive is a fault and is raised.
    """
    executor = SingleThreadedExecutor(context=node.context)
    executor.add_node(node)
    deadline = None if timeout_sec is None else time.monotonic() + timeout_sec
    try:
        while node.context.ok() and not (future is not None and future.done()):
            if stop is not None and stop.is_set():
                break
            left = POLL_S if deadline is None else min(POLL_S, deadline - time.monotonic())
            if left <= 0:
                break
            executor.spin_once(timeout_sec=left)
    except (KeyboardInterrupt, ExternalShutdownException):
        pass
    except RCLError:
        if node.context.ok():
            raise
    finally:
        executor.remove_node(node)
        executor.shutdown()


def run_until_signal(node: Node) -> None:
    """Spin ``node`` until SIGINT or SIGTERM (or a shutdown), then destroy it and shut rclpy
    down, in that order (for entry points with one plain node, started with :func:`init`)."""
    with StopSignals() as signals:
        spin_until_shutdown(node, stop=signals.requested)
    node.destroy_node()
    rclpy.try_shutdown()
