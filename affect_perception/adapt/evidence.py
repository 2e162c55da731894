"""The evidence for adapt on the ~25 real faces that ship in packages: recordings filmed from
some check-set photos (`clips`), adapt on those, then the teachers' agreement on the faces of
the other photos (`realcheck`), before and after, beside the synthetic held-out metrics.

The split is by photo, never by frame: no face of a measured photo is in any recording.
``python -m affect_perception.adapt.evidence --out DIR`` runs it at full size.
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from affect_perception.adapt.config import AdaptConfig
from affect_perception.adapt.run import Adapter
from affect_perception.evaluation.bag_io import COMPRESSED_TOPIC, BagWriter
from affect_perception.evaluation.make_bag import START_TIME_NS
from affect_perception.realfaces import checkset
from affect_perception.realfaces.clips import ClipSpec, make_clip
from affect_perception.realfaces.realcheck import (
    CHECK_THRESHOLD,
    ModelRunner,
    RealcheckConfig,
    agreement,
    measure_faces,
)
from affect_perception.realfaces.teachers.ensemble import Teachers, roll_degrees

# Photos filmed as recordings and photos measured on (every face of the check set is in one).
RECORDED = ("sample1", "sample3", "sample5", "astronaut")
MEASURED = ("sample2", "sample4", "sample6", "messi5", "camera")
# Clip kinds filmed per recorded photo: one bag each.
KINDS = ("zoom", "mirror", "lighting")
# Longest frame side of the recordings, pixels (group photos are 1920 px wide).
FRAME_SIDE = 1280
FPS = 30
# Outputs whose agreement is the goal, and the teacher signal each is compared with.
GOAL = {"valence": "expr_mean:valence", "AU12": "facemesh:AU12", "Joy": "expr_mean:Joy"}


def photo_bags(
    photos: Sequence[str], folder: Path, frames: int, seed: int = 0, kinds: Sequence[str] = KINDS
) -> list[Path]:
    """One compressed-image MCAP bag per photo and clip kind under ``folder``."""
    bags = []
    for name in photos:
        photo = checkset.load_photo(name)
        height, width = photo.shape[:2]
        scale = min(1.0, FRAME_SIDE / max(height, width))
        size = (int(width * scale) // 2 * 2, int(height * scale) // 2 * 2)
        for kind in kinds:
            path = folder / f"{name}_{kind}"
            spec = ClipSpec(kind=kind, frames=frames, seed=seed, size=size, face_height=size[1])
            with BagWriter(path) as writer:
                for i, frame in enumerate(make_clip(photo, spec)):
                    writer.write_image(
                        COMPRESSED_TOPIC,
                        frame,
                        START_TIME_NS + i * 1_000_000_000 // FPS,
                        compressed=True,
                    )
            bags.append(path)
    return bags


def teacher_agreement(models: dict[str, Path], photos: Sequence[str]) -> dict[str, Any]:
    """realcheck's agreement with the teachers on the faces of ``photos``, per model (the
    teachers run once: they see the photos, not the models)."""
    images = {name: checkset.load_photo(name) for name in photos}
    teachers, taught = Teachers(), {}
    result: dict[str, Any] = {}
    for label, model_dir in models.items():
        config = RealcheckConfig(
            model_dir=model_dir, photos=tuple(photos), clip_photos=(), clip_kinds=()
        )
        faces = measure_faces(config, images, ModelRunner(model_dir, config.threads))
        for face in faces:
            if face.box is not None and face.name not in taught:
                taught[face.name] = teachers.teach(
                    images[face.photo], face.box, roll_degrees(face.keypoints)
                )
            face.teaching = taught.get(face.name)
        report = agreement(faces)
        result[label] = {o: report[o]["spearman"][signal] for o, signal in GOAL.items()}
        result["faces"] = report["valence"]["faces"]
    return result


def run_evidence(
    out: Path,
    start: Path,
    frames: int,
    adapt: dict[str, Any],
    kinds: Sequence[str] = KINDS,
    recorded: Sequence[str] = RECORDED,
    measured: Sequence[str] = MEASURED,
) -> dict[str, Any]:
    """Film (``kinds`` of clip per recorded photo), adapt (``adapt``: `AdaptConfig` fields),
    measure; writes and returns ``evidence.json``."""
    bags = photo_bags(recorded, out / "recordings", frames, kinds=kinds)
    report = Adapter(
        AdaptConfig(
            recordings=tuple(bags),
            out=out / "adapt",
            model=start,
            score_threshold=CHECK_THRESHOLD,
            **adapt,
        )
    ).run()
    assert report is not None  # one process: the report is this one's
    measures = teacher_agreement({"before": start, "after": out / "adapt" / "model"}, measured)
    before, after = measures["before"], measures["after"]
    evidence = {
        "recorded_photos": list(recorded),
        "measured_photos": list(measured),
        "frames_per_clip": frames,
        "clip_kinds": list(kinds),
        "measured_faces": measures["faces"],
        "agreement": {
            o: {
                "before": before[o],
                "after": after[o],
                "change": None if before[o] is None or after[o] is None else after[o] - before[o],
            }
            for o in GOAL
        },
        "synthetic_heldout": report["synthetic_heldout"],
        "adapt_heldout_tracks": report["heldout_agreement"],
    }
    (out / "evidence.json").write_text(json.dumps(evidence, indent=1) + "\n")
    return evidence


def main(argv: list[str] | None = None) -> int:
    """Run the evidence at a chosen size and print the tables."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--model", type=Path, default=Path("models/demo"))
    parser.add_argument("--frames", type=int, default=40)
    parser.add_argument("--epochs", type=int, default=4)
    parser.add_argument("--steps-per-epoch", type=int, default=50)
    parser.add_argument("--lr", type=float, default=1e-4)
    parser.add_argument("--synth-videos", type=int, default=16)
    parser.add_argument("--threads", type=int, default=None)
    args = parser.parse_args(argv)
    evidence = run_evidence(
        args.out,
        args.model,
        args.frames,
        {
            "epochs": args.epochs,
            "steps_per_epoch": args.steps_per_epoch,
            "lr": args.lr,
            "synth_videos": args.synth_videos,
            "threads": args.threads,
            "progress": False,
        },
    )
    print(json.dumps({k: evidence[k] for k in ("measured_faces", "agreement")}, indent=1))
    print(
        json.dumps(
            {k: v for k, v in evidence["synthetic_heldout"].items() if "/" not in k}, indent=1
        )
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
