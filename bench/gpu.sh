#!/usr/bin/env bash
# TensorRT (FP16), CUDA and CPU side by side on an NVIDIA GPU, in one prepared run:
# faces/s of the streaming step at batch 1, 4 and 16 and the end-to-end fps and p99 latency
# for 1 and 4 faces, one column per provider (affect_perception/bench/gpu.py). TensorRT's
# engines (batches 1-16) are built on the first run and cached with the benchmark model in
# $GPU_BENCH_CACHE (default ~/.cache/affect_perception/gpu_bench); the run is cut off after
# $GPU_BENCH_TIMEOUT seconds (default 290), so it exits within 5 minutes.
#
#   bench/gpu.sh --setup       once: make the GPU venv (below; several GB, minutes), then exit
#   bench/gpu.sh [options]     the comparison; options go to bench/gpu.py, e.g. --seconds 5,
#                              --providers tensorrt cuda, --json gpu.json
#   bench/gpu.sh --cpu-only    the CPU column only, with the CPU venv (.venv): checks the
#                              script and the CPU path on a machine without a GPU
#
# The CPU venv (.venv) holds the CPU onnxruntime; the GPU build cannot sit beside it (both
# install the module `onnxruntime`), so the GPU venv lives outside the repository:
#   $GPU_VENV (default ~/.cache/affect_perception/venv-gpu)
# with the pinned runtime, training and evaluation requirements, onnxruntime-gpu with its CUDA
# and cuDNN wheels, and the TensorRT 10 libraries. Override the pins with ORT_GPU and
# TENSORRT_LIBS. Exit 1 with one line when no GPU, no GPU venv or a provider is missing.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
ROOT=$PWD
GPU_VENV=${GPU_VENV:-$HOME/.cache/affect_perception/venv-gpu}
ORT_GPU=${ORT_GPU:-onnxruntime-gpu[cuda,cudnn]==1.31.1}
TENSORRT_LIBS=${TENSORRT_LIBS:-tensorrt-cu12-libs==10.16.1.11}
CACHE=${GPU_BENCH_CACHE:-$HOME/.cache/affect_perception/gpu_bench}
LIMIT_S=${GPU_BENCH_TIMEOUT:-290}
PY=${PYTHON:-python3}

fail() { echo "bench/gpu.sh: $*" >&2; exit 1; }

mode=gpu
case "${1:-}" in
  --setup) mode=setup; shift ;;
  --cpu-only) mode=cpu; shift ;;
  -h|--help) sed -n '2,21p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
esac

run() {  # the comparison under the time limit
  local python=$1; shift
  local rc=0
  PYTHONPATH=$ROOT${PYTHONPATH:+:$PYTHONPATH} timeout "$LIMIT_S" \
    "$python" -m affect_perception.bench.gpu --cache "$CACHE" "$@" || rc=$?
  [ "$rc" -ne 124 ] || fail "stopped after ${LIMIT_S} s (GPU_BENCH_TIMEOUT); a first TensorRT" \
    "build may need a second run, which loads the cached engines"
  return "$rc"
}

if [ "$mode" = cpu ]; then
  [ -x .venv/bin/python ] || fail "no .venv here: run make setup first"
  run .venv/bin/python --providers cpu "$@"
  exit
fi

if ! command -v nvidia-smi >/dev/null || ! nvidia-smi -L >/dev/null 2>&1; then
  fail "no NVIDIA GPU here (nvidia-smi finds none); bench/gpu.sh --cpu-only runs the CPU" \
       "column, .venv/bin/affect-perception bench the CPU figures"
fi

if [ "$mode" = setup ]; then
  echo "== creating $GPU_VENV (once; several GB)"
  "$PY" -m venv "$GPU_VENV"
  "$GPU_VENV/bin/pip" install --disable-pip-version-check -q -c requirements/lock.txt \
    -r requirements/runtime.txt -r requirements/train.txt -r requirements/eval.txt
  "$GPU_VENV/bin/pip" uninstall -y -q onnxruntime
  "$GPU_VENV/bin/pip" install --disable-pip-version-check -q "$ORT_GPU" "$TENSORRT_LIBS"
  echo "== done: now run bench/gpu.sh"
  exit 0
fi

[ -x "$GPU_VENV/bin/python" ] || fail "no GPU venv at $GPU_VENV: run bench/gpu.sh --setup first"
nvidia-smi -L
# The CUDA, cuDNN and TensorRT libraries of the wheels, where onnxruntime's providers look.
SITE=$("$GPU_VENV/bin/python" -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')
LIBS=$(find "$SITE/nvidia" "$SITE/tensorrt_libs" -maxdepth 2 -name 'lib*.so*' \
         -printf '%h\n' 2>/dev/null | sort -u | paste -sd: -)
export LD_LIBRARY_PATH=$LIBS${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}
run "$GPU_VENV/bin/python" "$@"
