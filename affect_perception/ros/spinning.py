"""Spin a node until its work is done or a signal shuts the context down."""

from __future__ import annotations

from rclpy.executors import ExternalShutdownException, SingleThreadedExecutor
from rclpy.node import Node
from rclpy.subscription import RCLError
from rclpy.task import Future


def spin_until_shutdown(
    node: Node, future: Future | None = None, timeout_sec: float | None = None
) -> None:
    """Spin ``node`` until ``future`` is done (forever when None), ``timeout_sec`` passes, or
    SIGINT/SIGTERM shuts its context down; a shutdown returns quietly.

    A signal that shuts the context down between the executor's context check and its
    wait-set set-up surfaces as an RCLError about an invalid context: that too is a shutdown,
    while the same error with the context alive is a fault and is raised.
    """
    executor = SingleThreadedExecutor(context=node.context)
    executor.add_node(node)
    try:
        executor.spin_until_future_complete(future or Future(), timeout_sec=timeout_sec)
    except (KeyboardInterrupt, ExternalShutdownException):
        pass
    except RCLError:
        if node.context.ok():
            raise
    finally:
        executor.remove_node(node)
        executor.shutdown()
