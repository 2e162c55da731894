"""The node's ``--help``: the command line and every parameter with its default."""

from __future__ import annotations

import json

from affect_perception.serving.settings import PARAMETERS


def usage(node_name: str) -> str:
    """What ``--help`` prints."""
    rows = "\n".join(
        f"  {p.name} ({p.type_name}, default {json.dumps(p.default)})" for p in PARAMETERS
    )
    return (
        f"usage: {node_name} [--help] [--ros-args [-p NAME:=VALUE] [--params-file FILE] "
        "[-r image:=TOPIC] ...]\n\n"
        "Camera images in (`image`, or `image/compressed` with use_compressed), the affect of "
        "every tracked face out\n(~/affect, affect_perception/AffectStateArray), /diagnostics "
        "once a second. A managed (lifecycle) node;\nwith autostart it configures and "
        "activates itself. Topics and parameters: docs/NODE.md.\n\n"
        f"  {node_name} --ros-args --params-file <share>/affect_perception/config/affect.yaml "
        "-r image:=/camera/image_raw\n\n"
        f"parameters:\n{rows}"
    )


def wants_help(argv: list[str]) -> bool:
    """``-h`` or ``--help`` among the arguments before ``--ros-args``."""
    own = argv[: argv.index("--ros-args")] if "--ros-args" in argv else argv
    return bool({"-h", "--help"} & set(own))
