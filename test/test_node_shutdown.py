"""spin_until_shutdown (used by the node, the example and the test publisher) treats a
signal that lands mid-spin as a shutdown.

rclpy's signal handler shuts the context down from another thread; when that happens between
the executor's context check and its wait-set set-up, rclpy raises an RCLError about an
invalid context (seen once in the soak test's SIGTERM). It must end quietly then
and still raise an RCLError that arrives while the context is alive.
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
    """A stand-in for the executor's spin_until_future_complete that raises the wait-set error,
    shutting the node's context down first when ``shutdown`` (the signal's effect)."""
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
    monkeypatch.setattr(SingleThreadedExecutor, "spin_until_future_complete", spin)
    spin_until_shutdown(own_node, Future())
    assert not own_node.context.ok()


def test_wait_set_error_with_a_live_context_is_raised(own_node, monkeypatch) -> None:
    from rclpy.executors import SingleThreadedExecutor
    from rclpy.subscription import RCLError
    from rclpy.task import Future

    from affect_perception.ros.spinning import spin_until_shutdown

    spin = _raise_after(False, own_node)
    monkeypatch.setattr(SingleThreadedExecutor, "spin_until_future_complete", spin)
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
