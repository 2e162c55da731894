"""SROS2 (issue 22): the sros2 tooling cannot be installed here, so no keystore; what can be
checked is that the node starts and answers with ROS_SECURITY_ENABLE unset and under the
``--enclave`` argument docs/SECURITY.md tells users to give."""

from __future__ import annotations

import os
import signal
from pathlib import Path

import pytest

from affect_perception.bench.soak import NodeUnderLoad, render_messages

pytestmark = pytest.mark.ros

REPO = Path(__file__).resolve().parents[1]


@pytest.mark.parametrize("enclave", [False, True])
def test_node_runs_without_security_and_under_the_enclave_argument(
    rclpy_init: None,
    random_model_dir: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    enclave: bool,
) -> None:
    monkeypatch.delenv("ROS_SECURITY_ENABLE", raising=False)
    load = NodeUnderLoad(
        random_model_dir,
        tmp_path / "node.log",
        {"intra_op_threads": 1},
        ros_args=["--enclave", "/affect_perception"] if enclave else None,
    )
    try:
        load.wait_ready()
        assert ("--enclave" in load.process.args) == enclave
        record = load.play(render_messages(1, (320, 240)), fps=5.0, seconds=2.0)
    finally:
        code = load.stop(signal.SIGTERM)
    assert code == 0 and "Traceback" not in load.log_path.read_text()
    assert len(record.latency) >= 0.8 * record.sent and "ROS_SECURITY_ENABLE" not in os.environ


def test_security_doc_names_keystore_enclave_and_topics() -> None:
    text = (REPO / "docs" / "SECURITY.md").read_text()
    for word in (
        "ROS_SECURITY_KEYSTORE",
        "ROS_SECURITY_ENABLE",
        "--enclave /affect_perception",
        "create_enclave",
        "~/affect",
        "/diagnostics",
        "Enforce",
    ):
        assert word in text, word
