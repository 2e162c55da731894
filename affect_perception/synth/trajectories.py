"""Per-frame behaviour of one synthetic face: affect, action units, gestures, pose and place.

Valence and arousal are smooth random curves. Each action unit switches on where a drive
crosses zero; the drives are linear in valence and arousal plus noise shared by AU groups,
which gives real co-occurrence (AU6 with AU12 when positive, AU4 with AU7 when negative, AU1
with AU2 in surprise, AU25 with AU26). Gestures are short events: laughs (jaw oscillation,
while smiling), nods (positive), head shakes (negative), hesitations (the gaze darting away
and back, the mouth pulled to the side the gaze darts to) and smirks (the mouth held pulled
to one side); a video may begin in the middle of one. Between hesitations the gaze fixates
and jumps (saccades); the head follows the gaze part of the way. Arousal adds head jitter.
The face drifts, zooms and now and then leaves the frame. A few faces hold still, as a photo
does: their expression, pose and gaze stay as in one early frame (a held lopsided mouth
among them), while the camera still drifts and zooms.

Every process is causal (knot splines, forward filters, events drawn in time order, each
channel from its own generator), so the first F frames of a video do not depend on its length.
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields, replace

import numpy as np

from affect_perception.labels import AU_NAMES

# Knot spacing in seconds of the smooth random curves (longer: slower change).
VA_PERIOD_S = 2.5
AU_NOISE_PERIOD_S = 1.2
POSE_PERIOD_S = 3.0
PLACE_PERIOD_S = 5.0
ZOOM_PERIOD_S = 6.0

# Drive of each AU: (weight on valence, weight on arousal, bias, weight on its group's noise,
# group). An AU is on while its drive is above zero (with hysteresis); the biases set the base
# rates (about 15-45 % of frames) and the shared groups the co-occurrence.
AU_DRIVES: dict[str, tuple[float, float, float, float, str]] = {
    "AU1": (-0.9, 0.9, -0.9, 0.8, "brow"),
    "AU2": (0.0, 1.5, -1.1, 0.8, "brow"),
    "AU4": (-1.6, 0.4, -0.8, 0.8, "frown"),
    "AU6": (2.0, 0.2, -1.0, 0.8, "smile"),
    "AU7": (-1.4, 0.5, -0.9, 0.8, "frown"),
    "AU10": (-1.3, 0.2, -1.0, 0.9, "disgust"),
    "AU12": (2.0, 0.0, -0.3, 0.8, "smile"),
    "AU15": (-1.4, -0.8, -1.0, 0.8, "sad"),
    "AU23": (-1.2, 0.6, -1.0, 0.8, "frown"),
    "AU24": (-0.8, -0.4, -1.0, 0.9, "press"),
    "AU25": (0.6, 1.2, -0.7, 0.8, "mouth"),
    "AU26": (0.3, 1.4, -1.3, 0.8, "mouth"),
}
# Weight of each AU's own noise on top of its group's.
AU_OWN_NOISE = 0.45
# Spread of each person's AU biases (individual differences), in drive units.
AU_BIAS_SPREAD = 0.3
# Half-width of the hysteresis band around zero drive (stops flicker at the threshold).
AU_HYSTERESIS = 0.15
# Fraction of the remaining way to its target an AU intensity moves each frame (onset speed).
AU_RAMP = 0.6
# Range of an AU's intensity while on, per person and AU.
AU_LEVEL = (0.8, 1.0)

# Gesture events: kind -> (rate per second, duration range s, frequency range Hz, amplitude
# range). Each person scales every rate by a style factor in [0, 2]. Amplitudes: laugh in jaw
# intensity, nod and shake in degrees, hesitate in gaze units, smirk (a lopsided mouth held
# to one side, which is not hesitancy) in mouth-pull strength.
GESTURES: dict[
    str, tuple[float, tuple[float, float], tuple[float, float], tuple[float, float]]
] = {
    "laugh": (0.35, (0.6, 1.6), (3.5, 5.0), (0.8, 1.0)),
    "nod": (0.25, (0.8, 2.0), (2.2, 3.2), (6.0, 10.0)),
    "shake": (0.25, (0.8, 2.0), (2.0, 3.0), (8.0, 14.0)),
    "hesitate": (0.25, (0.8, 2.0), (3.4, 4.5), (0.6, 0.9)),
    "smirk": (0.25, (0.8, 2.5), (0.0, 0.0), (0.5, 1.0)),
}
# Valence a gesture needs at its start: laugh needs AU12 on instead.
NOD_MIN_VALENCE = 0.1
SHAKE_MAX_VALENCE = -0.1
# Seconds of behaviour before frame 0 in which gestures may already have begun: a video is a
# cut from a person's ongoing behaviour, so its first frames may catch a gesture under way
# (as often as any later frame does, for gestures shorter than this).
GESTURE_LEAD_S = 2.0

# Slow head pose spread in degrees (yaw, pitch, roll), the factor of it the drift is clipped
# at, and the head jitter at full arousal.
POSE_RANGE_DEG = (20.0, 8.0, 10.0)
POSE_CLIP = 1.25
JITTER_DEG = 1.5
# AR(1) coefficient of the jitter (higher: smoother jitter).
JITTER_SMOOTH = 0.5
# Gaze between hesitations: fixations on targets drawn within ±GAZE_RANGE (x, y) in gaze
# units (±1: iris at the eye corner), each held for FIXATION_S seconds, joined by saccades of
# SACCADE_FRAMES frames. A fixation outlasts the A/H window, so ordinary looking around never
# swings back and forth inside one window; only a hesitation does.
GAZE_RANGE = (0.6, 0.3)
FIXATION_S = (0.3, 1.0)
SACCADE_FRAMES = 2
# Eye-head coordination: degrees of head yaw and of (upward) pitch per gaze unit in x and in
# y. The head turns part of the way with the eyes, as people's heads do with larger gaze
# shifts, so a darting gaze shows in the head as well as in the iris.
HEAD_FOLLOWS_GAZE_DEG = (10.0, 4.0)
# Blinks per second and the eyelid closure over one blink, frame by frame.
BLINK_RATE = 0.3
BLINK_SHAPE = (0.5, 0.9, 1.0, 0.8, 0.4)

# Face height (forehead to chin) in pixels: the smallest the sampler picks where the frame
# allows (its detector-style box, brows to chin, is about 3/4 of it: 82 px), and the largest
# as a fraction of the frame height.
MIN_FACE_PX = 110.0
MAX_FACE_FRACTION = 0.6
# Half the width and height a head (ears, hair, roll) needs, as fractions of the face height.
HEAD_HALF_WIDTH = 0.62
HEAD_HALF_HEIGHT = 0.65
# Zoom range (log scale) around each face's base height.
ZOOM = 0.12
# Chance that a face leaves the frame once in a video, how long that takes in seconds, and how
# far its centre goes past the edge (fraction of the face height): far enough for its labels
# to go missing for a while, as in the real data.
EXIT_CHANCE = 0.3
EXIT_DURATION_S = (0.8, 1.6)
EXIT_DEPTH = 0.15
# Chance that a face holds still for the whole video, and the chance that a still face holds
# a lopsided mouth (a hesitation's look without its movement) of a strength in HELD_PULL.
STILL_CHANCE = 0.12
HELD_PULL_CHANCE = 0.5
HELD_PULL = (0.5, 1.0)
# Frame whose state a still face holds: late enough for the onset ramps to have settled (in
# frame 0 an AU that is on sits at AU_RAMP of its level, about the labels' threshold).
HELD_FRAME = 8


@dataclass
class FaceState:
    """How one face looks in one frame: what the renderer draws.

    Attributes:
        center: face-oval centre (x, y) in pixels.
        height: face-oval height (forehead to chin, at rest) in pixels.
        yaw: head turn in degrees, positive: the nose points to the image's right.
        pitch: head tilt in degrees, positive: looking up.
        roll: in-plane rotation in degrees, positive: clockwise in the image.
        valence: in [-1, 1].
        arousal: in [-1, 1].
        au: (12,) AU intensities in [0, 1], order labels.AU_NAMES.
        gaze: (x, y) iris offset in [-1, 1], positive: image right and down.
        blink: eyelid closure in [0, 1].
        hesitation: the mouth pulled to one side, in [-1, 1] (sign: the side, positive: image
            right; 0: not pulled).
    """

    center: tuple[float, float]
    height: float
    yaw: float = 0.0
    pitch: float = 0.0
    roll: float = 0.0
    valence: float = 0.0
    arousal: float = 0.0
    au: np.ndarray = field(default_factory=lambda: np.zeros(len(AU_NAMES)))
    gaze: tuple[float, float] = (0.0, 0.0)
    blink: float = 0.0
    hesitation: float = 0.0


@dataclass
class FaceTrack:
    """One face's state in every frame of a video, as arrays with the frame as first axis.

    Attributes mirror :class:`FaceState`: center (F, 2), height (F,), yaw, pitch, roll (F,)
    degrees, valence, arousal (F,), au (F, 12), gaze (F, 2), blink (F,), hesitation (F,).
    """

    center: np.ndarray
    height: np.ndarray
    yaw: np.ndarray
    pitch: np.ndarray
    roll: np.ndarray
    valence: np.ndarray
    arousal: np.ndarray
    au: np.ndarray
    gaze: np.ndarray
    blink: np.ndarray
    hesitation: np.ndarray

    def __len__(self) -> int:
        return len(self.height)

    def state(self, index: int) -> FaceState:
        """The face's state in frame ``index``."""
        return FaceState(
            center=(float(self.center[index, 0]), float(self.center[index, 1])),
            height=float(self.height[index]),
            yaw=float(self.yaw[index]),
            pitch=float(self.pitch[index]),
            roll=float(self.roll[index]),
            valence=float(self.valence[index]),
            arousal=float(self.arousal[index]),
            au=self.au[index].copy(),
            gaze=(float(self.gaze[index, 0]), float(self.gaze[index, 1])),
            blink=float(self.blink[index]),
            hesitation=float(self.hesitation[index]),
        )

    def take(self, order: np.ndarray) -> "FaceTrack":
        """The frames in ``order`` (e.g. a permutation, to show what depends on time)."""
        return replace(self, **{f.name: getattr(self, f.name)[order] for f in fields(self)})


def smooth_noise(rng: np.random.Generator, frames: int, fps: float, period_s: float) -> np.ndarray:
    """(frames,) smooth random curve of about unit spread: Catmull-Rom through N(0, 1) knots
    every ``period_s`` seconds."""
    pos = np.arange(frames) / (fps * period_s)
    knots = rng.normal(size=int(pos[-1]) + 4 if frames else 4)
    i = pos.astype(int)
    u = pos - i
    p0, p1, p2, p3 = knots[i], knots[i + 1], knots[i + 2], knots[i + 3]
    return 0.5 * (
        2 * p1
        + (p2 - p0) * u
        + (2 * p0 - 5 * p1 + 4 * p2 - p3) * u**2
        + (3 * p1 - p0 - 3 * p2 + p3) * u**3
    )


def _switch(drive: np.ndarray) -> np.ndarray:
    """Binary on/off of a drive with hysteresis around zero."""
    out = np.zeros(len(drive), dtype=bool)
    on = False
    for t, d in enumerate(drive):
        on = d > -AU_HYSTERESIS if on else d > AU_HYSTERESIS
        out[t] = on
    return out


def _ramp(target: np.ndarray) -> np.ndarray:
    """Intensities that follow (frames, k) targets with a short causal onset and offset."""
    out = np.empty_like(target)
    level = np.zeros(target.shape[1])
    for t in range(len(target)):
        level = level + AU_RAMP * (target[t] - level)
        out[t] = level
    return out


def _events(
    rng: np.random.Generator,
    frames: int,
    fps: float,
    rate: float,
    duration_s: tuple[float, float],
    lead_s: float = 0.0,
) -> list[tuple[int, int, np.random.Generator]]:
    """Poisson events in time order from ``lead_s`` seconds before frame 0: (start frame,
    negative for one begun before the video, length in frames, the event's generator); only
    events that reach frame 0."""
    events = []
    t = -lead_s
    while rate > 0:
        t += rng.exponential(1.0 / rate)
        start = int(np.floor(t * fps))
        if start >= frames:
            break
        length = int(rng.uniform(*duration_s) * fps)
        event_rng = np.random.default_rng(rng.integers(2**63))
        if start + length > 0:
            events.append((start, length, event_rng))
        t += length / fps
    return events


class _Simulator:
    """Builds one FaceTrack; each channel draws from its own child generator."""

    def __init__(self, seed: np.random.SeedSequence, frames: int, fps: float) -> None:
        self.frames, self.fps = frames, fps
        self._seeds = iter(seed.spawn(64))  # more than the channels drawn
        self.t = np.arange(frames) / fps

    def rng(self) -> np.random.Generator:
        return np.random.default_rng(next(self._seeds))

    def noise(self, period_s: float) -> np.ndarray:
        return smooth_noise(self.rng(), self.frames, self.fps, period_s)

    def affect(self) -> tuple[np.ndarray, np.ndarray]:
        """Valence and arousal: a person's mood offset plus slow swings, squashed into (-1, 1)."""
        curves = []
        for _ in range(2):
            rng = self.rng()
            mood, swing = rng.uniform(-0.6, 0.6), rng.uniform(0.6, 1.1)
            curves.append(np.tanh(1.3 * (mood + swing * self.noise(VA_PERIOD_S))))
        return curves[0], curves[1]

    def action_units(self, valence: np.ndarray, arousal: np.ndarray) -> np.ndarray:
        """(frames, 12) on/off targets from the AU drives (before onset ramps)."""
        groups = sorted({d[4] for d in AU_DRIVES.values()})
        shared = {g: self.noise(AU_NOISE_PERIOD_S) for g in groups}
        bias = self.rng().normal(0.0, AU_BIAS_SPREAD, len(AU_NAMES))
        on = np.zeros((self.frames, len(AU_NAMES)), dtype=bool)
        for k, name in enumerate(AU_NAMES):
            w_v, w_a, b, w_g, group = AU_DRIVES[name]
            drive = (
                w_v * valence
                + w_a * arousal
                + b
                + bias[k]
                + w_g * shared[group]
                + AU_OWN_NOISE * self.noise(AU_NOISE_PERIOD_S)
            )
            on[:, k] = _switch(drive)
        on[:, AU_NAMES.index("AU25")] |= on[:, AU_NAMES.index("AU26")]  # a dropped jaw parts lips
        return on

    def gestures(
        self, valence: np.ndarray, smiling: np.ndarray
    ) -> dict[str, tuple[np.ndarray, np.ndarray]]:
        """Per gesture kind: (frames,) oscillation and (frames,) 'event running' as the
        event's side, +1 or -1 (0: none running)."""
        out = {}
        style = self.rng().uniform(0.0, 2.0, len(GESTURES))
        for (kind, (rate, dur, freq, amp)), s in zip(GESTURES.items(), style, strict=True):
            wave = np.zeros(self.frames)
            running = np.zeros(self.frames)
            for start, length, rng in _events(
                self.rng(), self.frames, self.fps, rate * s, dur, GESTURE_LEAD_S
            ):
                first = max(start, 0)
                allowed = {
                    "laugh": smiling[first],
                    "nod": valence[first] > NOD_MIN_VALENCE,
                    "shake": valence[first] < SHAKE_MAX_VALENCE,
                    "hesitate": True,
                    "smirk": True,
                }[kind]
                if not allowed:
                    continue
                f, a = rng.uniform(*freq), rng.uniform(*amp)
                span = slice(first, min(start + length, self.frames))
                tau = self.t[span] - start / self.fps
                if kind == "laugh":  # jaw opens and closes: 0 .. a
                    wave[span] = a * 0.5 * (1 - np.cos(2 * np.pi * f * tau))
                elif kind == "smirk":  # held at strength a
                    wave[span] = a
                else:
                    wave[span] = a * np.sin(2 * np.pi * f * tau)
                running[span] = rng.choice((-1.0, 1.0))
            out[kind] = (wave, running)
        return out

    def intensities(self, on: np.ndarray, laugh: tuple[np.ndarray, np.ndarray]) -> np.ndarray:
        """(frames, 12) AU intensities: ramped targets at each person's levels, laughs on top."""
        level = self.rng().uniform(*AU_LEVEL, len(AU_NAMES))
        au = _ramp(on * level)
        jaw, laughing = laugh
        k25, k26 = AU_NAMES.index("AU25"), AU_NAMES.index("AU26")
        au[:, k26] = np.maximum(au[:, k26], jaw)
        au[:, k25] = np.maximum(au[:, k25], (laughing != 0) * level[k25])
        return np.clip(au, 0.0, 1.0)

    def pose(self, arousal: np.ndarray, gestures: dict) -> np.ndarray:
        """(frames, 3) yaw, pitch, roll in degrees: slow drift, nods, shakes, jitter."""
        pose = np.stack([r * self.noise(POSE_PERIOD_S) for r in POSE_RANGE_DEG], axis=1)
        limit = POSE_CLIP * np.array(POSE_RANGE_DEG)
        pose = np.clip(pose, -limit, limit)
        white = self.rng().normal(size=(self.frames, 2))
        jitter = np.zeros_like(white)
        for t in range(1, self.frames):
            jitter[t] = JITTER_SMOOTH * jitter[t - 1] + (1 - JITTER_SMOOTH) * white[t]
        pose[:, :2] += jitter * (JITTER_DEG * (arousal[:, None] + 1) / 2) * 2.0
        pose[:, 0] += gestures["shake"][0]
        pose[:, 1] += gestures["nod"][0]
        return pose

    def gaze(self, hesitate: np.ndarray) -> np.ndarray:
        """(frames, 2) gaze: fixations joined by saccades, plus the hesitation's darting in x."""
        rng = self.rng()
        limit = np.array(GAZE_RANGE)
        gaze = np.empty((self.frames, 2))
        start, previous = 0, None
        while start < self.frames:
            target = rng.uniform(-limit, limit)
            previous = target if previous is None else previous  # the first fixation holds
            hold = max(SACCADE_FRAMES + 1, int(rng.uniform(*FIXATION_S) * self.fps))
            ramp = np.minimum(np.arange(1, hold + 1) / SACCADE_FRAMES, 1.0)[:, None]
            span = gaze[start : start + hold]
            span[:] = (previous + ramp * (target - previous))[: len(span)]
            start, previous = start + hold, target
        gaze[:, 0] += hesitate
        return np.clip(gaze, -1.0, 1.0)

    def blink(self) -> np.ndarray:
        """(frames,) eyelid closure of random blinks."""
        closure = np.zeros(self.frames)
        shape = np.array(BLINK_SHAPE)
        for start, _, _ in _events(self.rng(), self.frames, self.fps, BLINK_RATE, (0.0, 0.0)):
            span = closure[start : start + len(shape)]
            span[:] = np.maximum(span, shape[: len(span)])
        return closure

    def place(
        self, frame_size: tuple[int, int], slot: tuple[float, float], exits: tuple[str, ...]
    ) -> tuple[np.ndarray, np.ndarray]:
        """(frames, 2) centres and (frames,) heights inside the slot, with one exit maybe."""
        width, height = frame_size
        rng = self.rng()
        slot_w = slot[1] - slot[0]
        h_max = min(MAX_FACE_FRACTION * height, slot_w / (2 * HEAD_HALF_WIDTH))
        h_min = min(MIN_FACE_PX, 0.8 * h_max)
        base = np.exp(rng.uniform(np.log(h_min), np.log(h_max)))
        face_h = np.clip(base * np.exp(ZOOM * self.noise(ZOOM_PERIOD_S)), 0.9 * h_min, h_max)
        ux, uy = (np.clip(0.5 + 0.35 * self.noise(PLACE_PERIOD_S), 0, 1) for _ in range(2))
        lo_x, hi_x = slot[0] + HEAD_HALF_WIDTH * face_h, slot[1] - HEAD_HALF_WIDTH * face_h
        lo_y, hi_y = HEAD_HALF_HEIGHT * face_h, height - HEAD_HALF_HEIGHT * face_h
        center = np.stack([lo_x + ux * (hi_x - lo_x), lo_y + uy * (hi_y - lo_y)], axis=1)
        exit_rng = self.rng()
        if exits and exit_rng.uniform() < EXIT_CHANCE:
            side = exits[exit_rng.integers(len(exits))]
            length = int(exit_rng.uniform(*EXIT_DURATION_S) * self.fps)
            start = int(exit_rng.uniform(0, max(self.frames - length, 1)))
            span = slice(start, start + length)
            progress = np.sin(np.pi * np.arange(length) / length) ** 2
            progress = progress[: len(center[span])]
            axis, goal = {
                "left": (0, -EXIT_DEPTH * face_h),
                "right": (0, width + EXIT_DEPTH * face_h),
                "bottom": (1, height + EXIT_DEPTH * face_h),
            }[side]
            center[span, axis] += progress * (goal[span] - center[span, axis])
        return center, face_h


def simulate_face(
    seed: np.random.SeedSequence | int,
    frames: int,
    fps: float,
    frame_size: tuple[int, int],
    slot: tuple[float, float] | None = None,
    exits: tuple[str, ...] = ("left", "right", "bottom"),
) -> FaceTrack:
    """Simulate one face for ``frames`` frames.

    Args:
        seed: an int or a SeedSequence (one per face of a video).
        frames: number of frames.
        fps: frame rate; gestures and curves are timed in seconds.
        frame_size: (width, height) of the frame in pixels.
        slot: (x0, x1) band of the frame the face stays in (default: the whole width).
        exits: frame edges the face may leave through ("left", "right", "bottom").

    Returns:
        The face's per-frame state.
    """
    if frames < 1 or fps <= 0:
        raise ValueError(f"need frames >= 1 and fps > 0, got frames={frames}, fps={fps}")
    if not isinstance(seed, np.random.SeedSequence):
        seed = np.random.SeedSequence(seed)
    sim = _Simulator(seed, frames, fps)
    valence, arousal = sim.affect()
    on = sim.action_units(valence, arousal)
    gestures = sim.gestures(valence, on[:, AU_NAMES.index("AU12")])
    au = sim.intensities(on, gestures["laugh"])
    pose = sim.pose(arousal, gestures)
    gaze = sim.gaze(gestures["hesitate"][0])
    pose[:, 0] += HEAD_FOLLOWS_GAZE_DEG[0] * gaze[:, 0]
    pose[:, 1] -= HEAD_FOLLOWS_GAZE_DEG[1] * gaze[:, 1]
    blink = sim.blink()
    dart, running = gestures["hesitate"]
    held, side = gestures["smirk"]
    pull = np.where(running != 0, np.sign(dart), held * side)  # a hesitation overrides a smirk
    hesitation = _ramp(pull[:, None])[:, 0]
    center, face_h = sim.place(frame_size, slot or (0.0, float(frame_size[0])), exits)
    track = FaceTrack(
        center=center,
        height=face_h,
        yaw=pose[:, 0],
        pitch=pose[:, 1],
        roll=pose[:, 2],
        valence=valence,
        arousal=arousal,
        au=au,
        gaze=gaze,
        blink=blink,
        hesitation=hesitation,
    )
    return _held_still(track, sim.rng())


def _held_still(track: FaceTrack, rng: np.random.Generator) -> FaceTrack:
    """With chance STILL_CHANCE, the face's state in frame HELD_FRAME (its onset ramps settled)
    held over the whole video (where it is and how big stay as they were: the camera moves,
    the face does not)."""
    if rng.uniform() >= STILL_CHANCE:
        return track
    frames = len(track)
    k = min(HELD_FRAME, frames - 1)
    held = {
        f.name: np.repeat(getattr(track, f.name)[k : k + 1], frames, axis=0)
        for f in fields(track)
        if f.name not in ("center", "height")
    }
    if rng.uniform() < HELD_PULL_CHANCE:
        held["hesitation"][:] = rng.choice((-1.0, 1.0)) * rng.uniform(*HELD_PULL)
    return replace(track, **held)
