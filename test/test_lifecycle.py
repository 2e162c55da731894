"""affect_perception_node as a managed node, driven by lifecycle service calls from this
process (`<node>/change_state`, `<node>/get_state`): every transition, frames flowing through
activate -> deactivate -> activate, diagnostics naming the state, and a failed configure that
leaves the node unconfigured with one clear error and ready for the next attempt."""

from __future__ import annotations

import signal
import time
from pathlib import Path

import numpy as np
import pytest
from ros_support import spin_until, start_process, stop_process

from affect_perception.synth.scene import render_video

pytestmark = pytest.mark.ros

NODE = "/affect_perception_node"
IMAGE_TOPIC = "/lifecycle_test/image"
SIZE = (320, 240)
WINDOW = 8  # the random_model_dir fixture's window
FPS = 30.0
# Longest waits: a service reply (configure loads the models) and a message.
CALL_S = 60.0
MESSAGE_S = 10.0
# Seconds after which a read-only request (get_state) is sent again (see Driver.call).
RESEND_S = 3.0
# How long a check that something does NOT arrive listens.
QUIET_S = 1.5


class Driver:
    """Lifecycle and parameter clients, an image publisher and the node's outputs."""

    def __init__(self) -> None:
        from diagnostic_msgs.msg import DiagnosticArray
        from lifecycle_msgs.srv import ChangeState, GetState
        from rcl_interfaces.srv import SetParameters
        from rclpy.executors import SingleThreadedExecutor
        from rclpy.node import Node
        from sensor_msgs.msg import Image

        from affect_perception.msg import AffectStateArray

        self.node = Node("lifecycle_test_driver")
        self.executor = SingleThreadedExecutor()
        self.executor.add_node(self.node)
        self.change_client = self.node.create_client(ChangeState, f"{NODE}/change_state")
        self.state_client = self.node.create_client(GetState, f"{NODE}/get_state")
        self.param_client = self.node.create_client(SetParameters, f"{NODE}/set_parameters")
        self.images = self.node.create_publisher(Image, IMAGE_TOPIC, 10)
        self.affect: list = []
        self.diagnostics: list = []
        self.node.create_subscription(AffectStateArray, f"{NODE}/affect", self.affect.append, 100)
        self.node.create_subscription(DiagnosticArray, "/diagnostics", self.on_diagnostics, 10)

    def on_diagnostics(self, msg) -> None:
        self.diagnostics += [status for status in msg.status if status.name == NODE]

    def spin_until(self, condition, timeout: float) -> bool:
        return spin_until(self.node, condition, timeout, executor=self.executor)

    def call(self, client, request, resend_s: float | None = None):
        """Call and wait up to CALL_S for the reply. With ``resend_s`` (read-only requests
        only) the request is sent again every ``resend_s`` seconds until a reply comes: a
        request sent while the graph still lists the previous node process's service, or
        before the new server has matched this client, is lost, not queued."""
        assert client.wait_for_service(timeout_sec=CALL_S), client.srv_name
        deadline = time.monotonic() + CALL_S
        while True:
            future = client.call_async(request)
            wait = min(resend_s or CALL_S, max(0.0, deadline - time.monotonic()))
            if self.spin_until(future.done, wait):
                return future.result()
            client.remove_pending_request(future)
            assert time.monotonic() < deadline, f"no reply from {client.srv_name}"

    def change(self, transition: str) -> bool:
        from lifecycle_msgs.msg import Transition
        from lifecycle_msgs.srv import ChangeState

        ids = {
            "configure": Transition.TRANSITION_CONFIGURE,
            "cleanup": Transition.TRANSITION_CLEANUP,
            "activate": Transition.TRANSITION_ACTIVATE,
            "deactivate": Transition.TRANSITION_DEACTIVATE,
            "shutdown": Transition.TRANSITION_UNCONFIGURED_SHUTDOWN,
        }
        request = ChangeState.Request()
        request.transition.id = ids[transition]
        return self.call(self.change_client, request).success

    def state(self) -> str:
        from lifecycle_msgs.srv import GetState

        return self.call(
            self.state_client, GetState.Request(), resend_s=RESEND_S
        ).current_state.label

    def set_parameter(self, name: str, value: object):
        from rcl_interfaces.srv import SetParameters
        from rclpy.parameter import Parameter

        request = SetParameters.Request(
            parameters=[Parameter(name, value=value).to_parameter_msg()]
        )
        return self.call(self.param_client, request).results[0]

    def diagnostic(self, key: str) -> str | None:
        if not self.diagnostics:
            return None
        return {kv.key: kv.value for kv in self.diagnostics[-1].values}.get(key)

    def play(self, frames: list[np.ndarray], first_index: int) -> None:
        """Publish frames at 30 fps, stamped by their index."""
        from std_msgs.msg import Header

        from affect_perception.ros.conversions import image_message

        due = time.monotonic()
        for k, rgb in enumerate(frames):
            header = Header(frame_id="camera")
            header.stamp.sec, header.stamp.nanosec = divmod(
                (first_index + k) * 33_333_333, 1_000_000_000
            )
            self.images.publish(image_message(rgb, header))
            due += 1 / FPS
            self.spin_until(lambda d=due: time.monotonic() >= d, 1.0)

    def answered(self, index: int) -> bool:
        """The output for the frame of this index has arrived (frames before it may have been
        dropped as stale by a busy node)."""
        stamp = divmod(index * 33_333_333, 1_000_000_000)
        return any((m.header.stamp.sec, m.header.stamp.nanosec) == stamp for m in self.affect)

    def quiet(self, condition) -> bool:
        """Listen for QUIET_S; whether ``condition`` still holds at the end."""
        self.spin_until(lambda: False, QUIET_S)
        return condition()

    def close(self) -> None:
        self.executor.remove_node(self.node)
        self.node.destroy_node()


@pytest.fixture
def driver(rclpy_init: None):
    made = Driver()
    yield made
    made.close()


def node_args(*params: str) -> list[str]:
    return [
        "-m",
        "affect_perception.ros.node",
        "--ros-args",
        "-r",
        f"image:={IMAGE_TOPIC}",
        *[
            arg
            for p in ("autostart:=false", "image_reliability:=reliable", *params)
            for arg in ("-p", p)
        ],
    ]


@pytest.fixture(scope="module")
def frames() -> list[np.ndarray]:
    return [f.image for f in render_video(1, 12, faces=1, size=SIZE, fps=FPS)]


def test_every_transition_with_frames_flowing(
    driver: Driver, random_model_dir: Path, frames: list, tmp_path: Path
) -> None:
    log = tmp_path / "node.log"
    proc = start_process(node_args(f"model_dir:={random_model_dir}"), log)
    try:
        assert driver.state() == "unconfigured", log.read_text()
        assert driver.images.get_subscription_count() == 0
        assert driver.quiet(lambda: not driver.diagnostics)  # none while unconfigured
        assert not driver.change("activate")  # not a transition of unconfigured

        assert driver.change("configure"), log.read_text()
        assert driver.state() == "inactive"
        assert driver.spin_until(
            lambda: driver.diagnostic("lifecycle state") == "inactive", MESSAGE_S
        )
        assert driver.diagnostic("window size") == str(WINDOW)  # the model is loaded
        assert driver.images.get_subscription_count() == 0  # inactive: no camera yet

        assert driver.change("activate")
        assert driver.state() == "active"
        assert driver.spin_until(lambda: driver.images.get_subscription_count() > 0, MESSAGE_S)
        driver.play(frames, 0)
        assert driver.spin_until(lambda: driver.answered(len(frames) - 1), MESSAGE_S)
        first_run = [face for msg in driver.affect for face in msg.faces]
        assert [face.window_fill for face in first_run] == [  # one face, its window filling
            min(k + 1, WINDOW) for k in range(len(first_run))
        ]
        assert driver.spin_until(
            lambda: driver.diagnostic("lifecycle state") == "active", MESSAGE_S
        )

        assert driver.change("deactivate")
        assert driver.state() == "inactive"
        assert driver.spin_until(lambda: driver.images.get_subscription_count() == 0, MESSAGE_S)
        count = len(driver.affect)
        driver.play(frames, 100)
        assert driver.quiet(lambda: len(driver.affect) == count)  # frames are not processed
        assert driver.spin_until(
            lambda: driver.diagnostic("lifecycle state") == "inactive", MESSAGE_S
        )

        assert driver.change("activate")  # and again, the models still loaded
        assert driver.spin_until(lambda: driver.images.get_subscription_count() > 0, MESSAGE_S)
        driver.play(frames, 200)
        assert driver.spin_until(lambda: driver.answered(200 + len(frames) - 1), MESSAGE_S)
        second_run = [face for msg in driver.affect[count:] for face in msg.faces]
        assert second_run and second_run[0].window_fill == 1  # a new track after the pause
        assert second_run[0].track_id != first_run[-1].track_id

        assert driver.change("deactivate") and driver.change("cleanup")
        assert driver.state() == "unconfigured"
        driver.diagnostics.clear()
        assert driver.quiet(lambda: not driver.diagnostics)  # released: no diagnostics
        assert driver.change("configure") and driver.state() == "inactive"  # loads again
        assert driver.change("cleanup")

        assert driver.change("shutdown")
        proc.wait(timeout=MESSAGE_S)  # a finalized node ends its process
    finally:
        code = stop_process(proc, signal.SIGTERM)
    text = log.read_text()
    assert code == 0, text
    assert "Traceback" not in text
    for line in (
        "configured: model",
        "active: listening on " + IMAGE_TOPIC,
        "inactive: not processing images",
        "unconfigured: models released",
    ):
        assert line in text


def test_a_failed_configure_leaves_the_node_unconfigured_with_a_clear_error(
    driver: Driver, random_model_dir: Path, tmp_path: Path
) -> None:
    """A bad value and a missing model: each configure fails naming its parameter, the node
    stays unconfigured and running, and configures once the parameters are fixed."""
    log = tmp_path / "node.log"
    proc = start_process(node_args("model_dir:=/nonexistent/model", "ah_threshold:=1.5"), log)
    try:
        assert driver.state() == "unconfigured", log.read_text()
        assert not driver.change("configure")
        assert driver.state() == "unconfigured"
        assert "cannot configure: parameter 'ah_threshold': 1.5 is outside (0, 1)" in (
            log.read_text()
        )

        assert driver.set_parameter("ah_threshold", 0.6).successful
        assert not driver.change("configure")
        assert driver.state() == "unconfigured" and proc.poll() is None
        assert (
            "cannot configure: parameter 'model_dir': /nonexistent/model lacks "
            "encoder.onnx, temporal.onnx"
        ) in log.read_text()

        refused = driver.set_parameter("qos_depth", 0)  # still checked while unconfigured
        assert not refused.successful
        # static parameters may change while unconfigured
        assert driver.set_parameter("model_dir", str(random_model_dir)).successful
        assert driver.change("configure"), log.read_text()
        assert driver.state() == "inactive"
        refused = driver.set_parameter("use_compressed", True)  # configured: static is fixed
        assert not refused.successful and "static" in refused.reason
        assert driver.set_parameter("ah_threshold", 0.7).successful  # dynamic: applies
        for _ in range(2):  # an action: applied on every set, the same value included
            assert driver.set_parameter("baseline.reset_track", "f0001").successful
    finally:
        code = stop_process(proc, signal.SIGTERM)
    text = log.read_text()
    assert code == 0, text
    assert "Traceback" not in text
    assert text.count("cannot configure") == 2  # one line per failed attempt
    assert text.count("set baseline.reset_track=f0001") == 2
