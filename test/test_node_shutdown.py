"""spin_until_shutdown and StopSignals (used by the node, the example and the test publisher).

A signal only asks the program to stop: spinning ends within POLL_S and the context stays
valid for the program's own teardown (rclpy's handler thread shut the context down and raced
the executor's teardown: SIGSEGV in rcl_trigger_guard_condition, about 1 in 10 SIGINTs to the
node while frames flowed). A context shut down mid-spin by someone else surfaces, when it
lands between the executor's context check and its wait-set set-up, as an RCLError about an
invalid context (seen once in the soak test's SIGTERM): that ends spinning quietly, while the
same error with the context alive is raised.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

pytestmark = pytest.mark.ros

INVALID_CONTEXT = "failed to initialize wait set: the given context is not valid"


@pytest.fixture
def own_node() -> Iterator[object]:
    """A plain node in its own rclpy context, shut down afterwards if still alive."""
    import rclpy
    from rclpy.context import Context

    context = Context()
    rclpy.init(context=context)
    node = rclpy.create_node("shutdown_race_test", context=context)
    yield node
    node.destroy_node()
    rclpy.try_shutdown(context=context)


def _raise_after(shutdown: bool, node: object):
    """A stand-in for the executor's spin_once that raises the wait-set error,
    shutting the node's context down first when ``shutdown`` (someone else's shutdown)."""
    import rclpy
    from rclpy.subscription import RCLError

    def spin(*_args: object, **_kwargs: object) -> None:
        if shutdown:
            rclpy.shutdown(context=node.context)
        raise RCLError(INVALID_CONTEXT)

    return spin


def test_wait_set_error_after_a_signal_is_a_shutdown(own_node, monkeypatch) -> None:
    from rclpy.executors import SingleThreadedExecutor
    from rclpy.task import Future

    from affect_perception.ros.spinning import spin_until_shutdown

    spin = _raise_after(True, own_node)
    monkeypatch.setattr(SingleThreadedExecutor, "spin_once", spin)
    spin_until_shutdown(own_node, Future())
    assert not own_node.context.ok()


def test_wait_set_error_with_a_live_context_is_raised(own_node, monkeypatch) -> None:
    from rclpy.executors import SingleThreadedExecutor
    from rclpy.subscription import RCLError
    from rclpy.task import Future

    from affect_perception.ros.spinning import spin_until_shutdown

    spin = _raise_after(False, own_node)
    monkeypatch.setattr(SingleThreadedExecutor, "spin_once", spin)
    with pytest.raises(RCLError, match="failed to initialize wait set"):
        spin_until_shutdown(own_node, Future())
    assert own_node.context.ok()


def test_a_real_shutdown_ends_spinning(own_node) -> None:
    """Without stand-ins: a context shut down from another thread ends a forever spin."""
    import threading

    import rclpy

    from affect_perception.ros.spinning import spin_until_shutdown

    timer = threading.Timer(0.3, rclpy.shutdown, kwargs={"context": own_node.context})
    timer.start()
    spin_until_shutdown(own_node)
    timer.join()
    assert not own_node.context.ok()


def test_a_signal_stops_spinning_and_leaves_the_context_valid(own_node) -> None:
    """A real SIGINT to this process inside StopSignals: no KeyboardInterrupt, spinning ends
    within a poll, the context is still valid; the previous handler is back afterwards."""
    import os
    import signal
    import threading
    import time

    from affect_perception.ros.spinning import POLL_S, StopSignals, spin_until_shutdown

    before = signal.getsignal(signal.SIGINT)
    with StopSignals() as signals:
        timer = threading.Timer(0.3, os.kill, args=(os.getpid(), signal.SIGINT))
        start = time.monotonic()
        timer.start()
        spin_until_shutdown(own_node, stop=signals.requested)
        took = time.monotonic() - start
        timer.join()
        assert signals.requested.is_set()
    assert own_node.context.ok()
    assert 0.3 <= took < 0.3 + POLL_S + 1.0, took
    assert signal.getsignal(signal.SIGINT) is before


def test_a_timeout_ends_spinning(own_node) -> None:
    import time

    from affect_perception.ros.spinning import spin_until_shutdown

    start = time.monotonic()
    spin_until_shutdown(own_node, timeout_sec=0.25)
    assert 0.25 <= time.monotonic() - start < 2.0
    assert own_node.context.ok()
