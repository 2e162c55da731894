#!/usr/bin/env bash
# `affect-perception bench` on an NVIDIA GPU: onnxruntime with the CUDA provider, then with
# TensorRT (FP16, engine cache), each against torch on the same GPU. Writes
# bench-cuda.json and bench-tensorrt.json in the current folder (or $OUT).
#
# UNTESTED ON A GPU: no GPU was available where this script was written. It has only been
# checked for syntax and for its refusal on a machine without a GPU. See BENCHMARKS.md.
#
# The CPU venv (.venv) holds the CPU onnxruntime; the GPU build cannot sit beside it (both
# install the module `onnxruntime`), so a second venv is made once, outside the repository:
#   $GPU_VENV (default ~/.cache/affect_perception/venv-gpu)
# with the pinned training and runtime requirements, onnxruntime-gpu with its CUDA and cuDNN
# wheels, and the TensorRT 10 libraries. Override the pins with ORT_GPU / TENSORRT_LIBS.
# Extra arguments go to `bench`, e.g. `bench/gpu.sh --quick`.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
ROOT=$PWD
GPU_VENV=${GPU_VENV:-$HOME/.cache/affect_perception/venv-gpu}
ORT_GPU=${ORT_GPU:-onnxruntime-gpu[cuda,cudnn]==1.31.1}
TENSORRT_LIBS=${TENSORRT_LIBS:-tensorrt-cu12-libs==10.16.1.11}
OUT=${OUT:-$PWD}
PY=${PYTHON:-python3}

if ! command -v nvidia-smi >/dev/null || ! nvidia-smi -L >/dev/null 2>&1; then
  echo "bench/gpu.sh: no NVIDIA GPU here (nvidia-smi finds none); for the CPU figures run" \
       ".venv/bin/affect-perception bench" >&2
  exit 1
fi
nvidia-smi -L

if [ ! -x "$GPU_VENV/bin/python" ]; then
  echo "== creating $GPU_VENV (once; several GB)"
  "$PY" -m venv "$GPU_VENV"
  "$GPU_VENV/bin/pip" install --disable-pip-version-check -q -c requirements/lock.txt \
    -r requirements/runtime.txt -r requirements/train.txt -r requirements/eval.txt
  "$GPU_VENV/bin/pip" uninstall -y -q onnxruntime
  "$GPU_VENV/bin/pip" install --disable-pip-version-check -q "$ORT_GPU" "$TENSORRT_LIBS"
fi

# The CUDA, cuDNN and TensorRT libraries of the wheels, where onnxruntime's providers look.
SITE=$("$GPU_VENV/bin/python" -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')
LIBS=$(find "$SITE/nvidia" "$SITE/tensorrt_libs" -maxdepth 2 -name 'lib*.so*' \
         -printf '%h\n' 2>/dev/null | sort -u | paste -sd: -)
export LD_LIBRARY_PATH=$LIBS${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}
export PYTHONPATH=$ROOT${PYTHONPATH:+:$PYTHONPATH}

"$GPU_VENV/bin/python" - <<'EOF'
import onnxruntime as ort
available = ort.get_available_providers()
print("onnxruntime", ort.__version__, "providers:", ", ".join(available))
if "CUDAExecutionProvider" not in available:
    raise SystemExit("this onnxruntime has no CUDAExecutionProvider: check the GPU wheel")
EOF

bench() {
  "$GPU_VENV/bin/python" -m affect_perception.cli bench --providers "$@"
}
bench CUDAExecutionProvider CPUExecutionProvider --json "$OUT/bench-cuda.json" "$@"
# TensorRT builds one FP16 engine per input shape on first use (minutes): the cache keeps
# them next to the benchmark's temporary model, so each run builds them again.
bench TensorrtExecutionProvider CUDAExecutionProvider CPUExecutionProvider \
  --json "$OUT/bench-tensorrt.json" "$@"
