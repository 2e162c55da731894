#!/usr/bin/env bash
# The test command: lint (ruff, ruff format, types with a ratchet), then the whole test suite
# (unit, real ROS processes over loopback, real onnxruntime, real bags). Extra arguments go to pytest, e.g. `scripts/test.sh -k tracker`.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
# DDS discovery stays on this machine; a domain of our own keeps parallel runs apart.
export ROS_AUTOMATIC_DISCOVERY_RANGE=LOCALHOST
export ROS_DOMAIN_ID=${ROS_DOMAIN_ID:-$((RANDOM % 100 + 1))}
export ROS_LOG_DIR=${ROS_LOG_DIR:-$(mktemp -d -t affect_perception_roslog.XXXXXX)}
.venv/bin/ruff check .
.venv/bin/ruff format --check .
.venv/bin/python scripts/check_types.py
.venv/bin/python -m pytest "$@"
