"""`affect_perception_node`: camera images in, per-face affect out (a thin, managed node).

A lifecycle node (``configure`` loads the models, ``activate`` subscribes to the camera,
``deactivate`` stops, ``cleanup`` and ``shutdown`` release; ``autostart`` does the first two)
that only wires rclpy to :class:`AffectServer`, which owns the worker, the statistics, the
parameter policy and the pipeline. Topics, parameters and states: docs/NODE.md.
"""

from __future__ import annotations

import sys
from typing import Any

import rclpy
from rcl_interfaces.msg import SetParametersResult
from rclpy.lifecycle import LifecycleNode, LifecycleState, TransitionCallbackReturn
from rclpy.task import Future

from affect_perception.ros.declaration import declare_parameters
from affect_perception.ros.image_subscription import ImageSubscription
from affect_perception.ros.outputs import Outputs
from affect_perception.ros.service_guard import guard_parameter_services
from affect_perception.ros.spinning import StopSignals, init, spin_until_shutdown
from affect_perception.serving.server import LOG_THROTTLE_S, AffectServer
from affect_perception.serving.settings import BY_NAME, NODE_NAME, PARAMETERS, ParameterError
from affect_perception.serving.usage import usage, wants_help

STOP_TIMEOUT_S = 5.0  # longest wait for the worker's frame at deactivation or cleanup
EXIT_BAD_PARAMETER = 2  # exit status when start-up fails on a parameter or the model
EXIT_START_FAILED = 1  # exit status when start-up fails otherwise (one line, no traceback)
# Seconds spun after the shutdown transition, so the reply to its change_state call goes out.
FINALIZED_LINGER_S = 1.0
SUCCESS, FAILURE = TransitionCallbackReturn.SUCCESS, TransitionCallbackReturn.FAILURE


class StartError(RuntimeError):
    """The start-up configure failed for a reason other than a parameter."""


def _reason(err: Exception) -> str:
    """One line on why configure failed: a parameter's own message, else the error's type too."""
    return str(err) if isinstance(err, ParameterError) else f"{type(err).__name__}: {err}"


class AffectPerceptionNode(LifecycleNode):
    """The constructor only declares the parameters (an override rclpy refused or rcl
    ignored, from ``argv`` (default ``sys.argv``), fails ``configure``). ``autostart``: `start`
    is to be called at start-up; ``finalized``: done after ``shutdown``; ``configure_error``:
    why the last ``configure`` failed (None after a success)."""

    def __init__(self, argv: list[str] | None = None, **kwargs: Any) -> None:
        super().__init__(NODE_NAME, **kwargs)
        self.server = AffectServer(self.get_logger(), self._publish, self.context.ok)
        self.server.refused = declare_parameters(self, sys.argv if argv is None else argv)
        self.autostart = bool(self.get_parameter("autostart").value)
        self.finalized = Future()
        self.configure_error: Exception | None = None
        self._starting = False  # start() reports a failed configure itself
        self._images: ImageSubscription | None = None
        self._outputs: Outputs | None = None
        self.add_on_set_parameters_callback(self._on_set_parameters)
        guard_parameter_services(self, LOG_THROTTLE_S)

    def start(self) -> None:
        """Configure and activate (what ``autostart`` does at start-up); raises
        ParameterError (a parameter or the model) or StartError (anything else, one line)
        when configuring fails, leaving the node unconfigured."""
        self._starting = True
        try:
            configured = self.trigger_configure()
        finally:
            self._starting = False
        if configured != SUCCESS:
            err = self.configure_error
            if isinstance(err, ParameterError):
                raise err
            raise StartError(_reason(err) if err else "configure failed")
        self.trigger_activate()

    def on_configure(self, state: LifecycleState) -> TransitionCallbackReturn:
        """Read the parameters, load the models, create the publishers and the worker."""
        try:
            settings = self.server.configure(
                {p.name: self.get_parameter(p.name).value for p in PARAMETERS}
            )
            self._outputs = Outputs(self, settings, self._publish_diagnostics)
            self._images = ImageSubscription(self, settings, self.server.arrive)
        except Exception as err:  # a failed configure leaves the node unconfigured, not dead
            self._release()
            self.configure_error = err
            if not self._starting:
                self.get_logger().error(f"cannot configure: {_reason(err)}")
            return FAILURE
        self.configure_error = None
        return super().on_configure(state)

    def on_activate(self, state: LifecycleState) -> TransitionCallbackReturn:
        """Start processing: enable the publishers, then subscribe to the camera."""
        result = super().on_activate(state)
        if result != SUCCESS:
            return result
        self.server.activate()
        self._images.open()
        self.get_logger().info(
            f"active: listening on {self._images.describe()}, publishing "
            f"{self._outputs.affect_topic}"
        )
        return SUCCESS

    def on_deactivate(self, state: LifecycleState) -> TransitionCallbackReturn:
        """Stop processing; the models stay loaded."""
        self._images.close()
        self.server.deactivate()
        self._outputs.destroy_per_face()
        self.get_logger().info("inactive: not processing images")
        return super().on_deactivate(state)

    def on_cleanup(self, state: LifecycleState) -> TransitionCallbackReturn:
        """Release the models, publishers and worker: back to unconfigured."""
        self._release()
        self.get_logger().info("unconfigured: models released")
        return super().on_cleanup(state)

    def on_shutdown(self, state: LifecycleState) -> TransitionCallbackReturn:
        """Release everything; the process ends soon after (see `main`)."""
        self._release()
        if not self.finalized.done():
            self.finalized.set_result(True)
        return super().on_shutdown(state)

    def on_error(self, state: LifecycleState) -> TransitionCallbackReturn:
        """A transition raised: release everything and go back to unconfigured."""
        self._release()
        self.get_logger().error(
            "a lifecycle transition failed; released everything, the node is unconfigured"
        )
        return SUCCESS

    def _release(self) -> None:
        """Undo ``configure`` (and ``activate``), whatever part of it was done."""
        if self._images is not None:
            self._images.close()
        if not self.server.release(STOP_TIMEOUT_S):
            self.get_logger().warning(f"the worker did not stop within {STOP_TIMEOUT_S} s")
        if self._outputs is not None:
            self._outputs.destroy()
        self._outputs = self._images = None

    def _publish(self, result: Any, rgb: Any, msg: Any) -> None:
        """Worker thread, under the server's lock while active: publish one frame."""
        self._outputs.publish(result, rgb, msg, list(self.server.pipeline.tracker.removed))

    def _publish_diagnostics(self) -> None:
        """Timer: follow the publishers' reliability (best_available); the health."""
        if not self.server.configured:
            return
        self._images.follow_publishers()
        self._outputs.publish_health(self.server.health(self._images.resolved_topic))

    def _on_set_parameters(self, params: list[Any]) -> SetParametersResult:
        """Hand this node's parameters to the server (rclpy refuses the read-only ones)."""
        reason = self.server.set_parameters({p.name: p.value for p in params if p.name in BY_NAME})
        return SetParametersResult(successful=reason is None, reason=reason or "")

    def close(self) -> None:
        """Release everything and destroy the node."""
        self._release()
        self.destroy_node()


def main(args: list[str] | None = None) -> int:
    """Run the node until SIGINT, SIGTERM or its shutdown transition, then release it while the
    context is valid (see `spinning`); exit 0, or 2 when the start-up configure (autostart)
    fails on a parameter or the model. ``--help`` prints the usage and starts nothing."""
    if wants_help(sys.argv[1:] if args is None else args):
        print(usage(NODE_NAME))
        return 0
    init(args)
    node, status = None, 0
    with StopSignals() as signals:
        try:
            node = AffectPerceptionNode(args)
            if node.autostart:
                node.start()
            spin_until_shutdown(node, node.finalized, stop=signals.requested)
            if node.finalized.done():
                spin_until_shutdown(node, timeout_sec=FINALIZED_LINGER_S, stop=signals.requested)
        except (ParameterError, StartError) as err:
            rclpy.logging.get_logger(NODE_NAME).fatal(f"cannot start: {err}")
            status = EXIT_BAD_PARAMETER if isinstance(err, ParameterError) else EXIT_START_FAILED
        finally:
            if node is not None:
                node.close()
            rclpy.try_shutdown()
    return status


if __name__ == "__main__":
    sys.exit(main())
