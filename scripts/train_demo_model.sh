#!/usr/bin/env bash
# The bundled demo model, reproducibly: synthetic faces from fixed seeds -> frame-level
# backbone pretraining -> temporal training -> ONNX export -> held-out evaluation. Under 20
# minutes on 2 CPU cores. Writes the model folder (default models/demo) and work files under
# out/ (ignored by git).
#
#   scripts/train_demo_model.sh                                   # the demo model
#   VARIANT=single MODEL=out/variant_single scripts/train_demo_model.sh  # a variant, same recipe
#   REUSE=1 ...   # keep out/demo_data and its pretrained backbone from an earlier run (same
#                 # seeds, same files): a variant then costs only its temporal training
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
VARIANT=${VARIANT:-three}
MODEL=${MODEL:-models/demo}
WORK=${WORK:-out/demo_model_${VARIANT}}
DATA=${DATA:-out/demo_data}
BACKBONE="$DATA/pretrain/backbone.safetensors"
AP=(.venv/bin/python -m affect_perception.cli)
SECONDS=0
stage() { echo "[$(date +%T)] ${SECONDS}s: $*"; }

rm -rf "$WORK"
mkdir -p "$WORK" "$MODEL"
if [[ "${REUSE:-0}" == 1 && -f "$DATA/train/synth.json" && -f "$DATA/heldout/synth.json" \
      && -f "$BACKBONE" ]]
then
    stage "reusing the synthetic data and the pretrained backbone in $DATA"
else
    rm -rf "$DATA"
    stage "training data: 800 synthetic videos (seed 1), 10 % of them for validation"
    "${AP[@]}" synth --out "$DATA/train" --videos 800 --frames 24 --seed 1 --val-ratio 0.1 \
        --crop-size 128 --workers 2
    stage "held-out data: 100 synthetic videos from seed 2, never used in training"
    "${AP[@]}" synth --out "$DATA/heldout" --videos 100 --frames 24 --seed 2 --val-ratio 1 \
        --crop-size 128 --workers 2
    stage "backbone pretraining, frame by frame, on the training videos"
    "${AP[@]}" pretrain --train "$DATA/train" --out "$DATA/pretrain" --input-size 128 \
        --epochs 4 --batch-size 64 --lr 2e-3 --seed 0 --threads 2 --no-progress
fi
stage "temporal training of the ${VARIANT} variant on the pretrained backbone"
"${AP[@]}" train --train "$DATA/train" --test "$DATA/heldout" --out "$WORK/run" \
    --variant "$VARIANT" --input-size 128 --hidden-dim 128 --cache-channels 64 \
    --backbone-weights "$BACKBONE" \
    --epochs 4 --steps-per-epoch 100 --batch-size 16 --segment-length 16 --lr 2e-3 \
    --warmup-steps 50 --seed 0 --threads 2 --no-progress
stage "export"
"${AP[@]}" export --checkpoint "$WORK/run/checkpoints/best" --out "$MODEL" \
    --taught-on "synthetic only"
cp "$WORK/run/config.yaml" "$MODEL/train_config.yaml"
cp "$DATA/pretrain/pretrain_config.json" "$MODEL/pretrain_config.json"
cp "$DATA/pretrain/pretrain_metrics.jsonl" "$MODEL/pretrain_metrics.jsonl"
cp "$WORK/run/test_metrics.json" "$MODEL/heldout_metrics.json"
stage "evaluation of the exported model on a synthetic bag (seed 7, two people, 20 s)"
"${AP[@]}" make-bag --synthetic --seed 7 --frames 600 --faces 2 --out "$WORK/bag"
"${AP[@]}" eval --bag "$WORK/bag" --model "$MODEL" --report "$WORK/eval"
cp "$WORK/eval/report.json" "$MODEL/eval_report.json"
stage "done: ${MODEL} ($(du -sh "$MODEL" | cut -f1))"
