"""Online inference with a checkpoint of ``train.py``: replay a skeleton file frame by frame,
as if it arrived live, and print the rolling top-1 with each step's latency.

Usage::

    python -m examples.msg3d.stream --checkpoint runs/x/best.pt a04_s01_e00_v03.json
    python -m examples.msg3d.stream --checkpoint best.pt openpose_json_folder/ --fps 30
    python -m examples.msg3d.stream --checkpoint best.pt ntu.pkl --split xsub_val --sample ID
    python -m examples.msg3d.stream --weights pyskl-ntu60-xsub-3d-j S001C001P001R001A001.skeleton

INPUT is any file ``predict.py`` reads (a pose pickle: one of its samples, ``--sample``, or
the first). The frames replayed are those the offline model sees: the checkpoint's
pipeline applied to the file (preprocessing, stream, clip length). They go one at a time
to :meth:`MSG3DNet.forward_steps <examples.msg3d.model.MSG3DNet.forward_steps>`, which
emits a prediction whenever an output frame of the last block becomes ready: one per
4 input frames (the model's temporal stride), the first after ``model.delay`` frames (72),
each pooling the ready frames of the last ``--window`` input frames. At the end of the
stream, ``flush()`` gives exactly the offline logits of the whole clip (``predict.py``'s
answer); that is the last line printed. A clip no longer than the delay (a checkpoint
trained on 32-frame clips, say) gives only that line, and a warning on stderr.

A causal checkpoint (``train.py --causal``) has no delay: a label from the first frame,
each the model's answer on the frames seen so far. ``--every-frame`` prints one line per
input frame, the latest prediction held between two (no extra computation).

``--fps`` paces the replay at a camera's rate (sleeping between frames) instead of as fast
as the model runs; latencies are those of ``forward_steps`` alone. The checkpoint is loaded
with ``torch.load(..., weights_only=True)``.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Iterator, Sequence

import torch

from examples.msg3d import cli
from examples.msg3d.checkpoint import LIMITS
from examples.msg3d.predict import Predictor, load_checkpoint, load_weights, read_input

__all__ = ["main", "replay"]

FPS = (0.1, 10_000.0)  # a frame every 10 s at the slowest: a replay ends


def replay(predictor: Predictor, clip: torch.Tensor, fps: float | None = None) -> Iterator[dict]:
    """Stream ``clip`` (1, C, T, V, M) through the checkpoint's model one frame at a time.

    Yields one record per prediction: ``{"frame"`` (input frames seen), ``"class"``,
    ``"name"``, ``"probability"`` (top-1 of the softmax), ``"latency_ms"`` (of the
    ``forward_steps`` call that emitted it; 0 for the flush), ``"final"}`` (the flush:
    the offline prediction of the whole clip).
    """
    model = predictor.model
    model.clean_state()
    period = 1.0 / fps if fps else 0.0
    due = time.perf_counter()

    def record(logits: torch.Tensor, frame: int, latency: float, final: bool) -> dict:
        probability, index = logits.softmax(-1).max(-1)
        name = predictor.class_names[int(index)]
        return {"frame": frame, "class": int(index), "name": name,
                "probability": float(probability), "latency_ms": 1e3 * latency,
                "final": final}  # fmt: skip

    frames = clip.shape[2]
    for t in range(frames):
        if period:
            time.sleep(max(0.0, due - time.perf_counter()))
            due += period
        start = time.perf_counter()
        logits = model.forward_steps(clip[:, :, t : t + 1].to(predictor.device))
        latency = time.perf_counter() - start
        for j in range(logits.shape[2]):
            yield record(logits[0, :, j].cpu(), t + 1, latency, False)
    yield record(model.flush()[0].cpu(), frames, 0.0, True)


def build_parser() -> argparse.ArgumentParser:
    p = cli.Parser(
        description="Replay a skeleton file frame by frame through a train.py checkpoint, "
        "printing the rolling top-1 prediction and its latency.",
    )
    source = p.add_mutually_exclusive_group(required=True)
    source.add_argument("--checkpoint", help="best.pt or last.pt of train.py")
    source.add_argument(
        "--weights", metavar="NAME", help="a released checkpoint (examples/msg3d/weights.py)"
    )
    p.add_argument("input", metavar="INPUT", help="a skeleton file or OpenPose folder")
    p.add_argument("--split", help="pose pickles: the split to take the sample from (default: any)")
    p.add_argument("--sample", help="pose pickles: the sample's frame_dir (default: the first)")
    p.add_argument(
        "--fps", type=cli.bounded_float(*FPS),
        help=f"replay at this frame rate, {FPS[0]:g}..{FPS[1]:g} (default: at once)",
    )  # fmt: skip
    p.add_argument(
        "--window", type=cli.bounded_int(*LIMITS["stream_window"]), default=300,
        help="input frames pooled per prediction ({}..{})".format(*LIMITS["stream_window"]),
    )  # fmt: skip
    p.add_argument(
        "--every-frame", action="store_true",
        help="a prediction per input frame: the latest, held between the model's",
    )  # fmt: skip
    p.add_argument("--json", action="store_true", help="one JSON object per prediction")
    p.add_argument(
        "--device", type=cli.device, default="cpu", help="where to run: cpu, cuda, cuda:1, mps"
    )
    return p


def main(argv: Sequence[str] | None = None) -> int:
    """Command-line entry point."""
    args = build_parser().parse_args(argv)
    if args.weights is not None:
        checkpoint = load_weights(args.weights, args.device)
    else:
        checkpoint = load_checkpoint(args.checkpoint, args.device)
    predictor = Predictor(checkpoint, args.device)
    predictor.model.stream_window = args.window
    predictor.model.stream_every_frame = args.every_frame
    samples = read_input(args.input, predictor, split=args.split)
    if args.sample is not None:
        samples = [(n, s) for n, s in samples if s.meta.get("frame_dir") == args.sample]
        if not samples:
            raise SystemExit(f"{args.input}: no sample {args.sample!r}")
    name, sample = samples[0]
    try:
        clip = predictor.pipeline.model_input(sample, 1)
    except ValueError as error:
        raise SystemExit(f"{name}: {error}") from None
    model = predictor.model
    if clip.shape[2] <= model.delay:  # the first output frame needs delay + 1 input frames
        fix = "" if predictor.pipeline.sampling == "none" else " (train with --frames above it)"
        print(f"warning: {name}: {clip.shape[2]} frames, not more than the model's delay of "
              f"{model.delay}: no live prediction, only the end-of-stream one{fix}",
              file=sys.stderr)  # fmt: skip
    if not args.json:
        every = "every frame" if args.every_frame else f"every {model.stride} frames"
        kind = "causal model, " if model.causal else ""
        print(f"{name}: {clip.shape[2]} frames; {kind}a prediction {every} "
              f"from frame {model.delay + 1} on")  # fmt: skip
    for r in replay(predictor, clip, args.fps):
        if args.json:
            print(json.dumps(r))
        elif r["final"]:
            print(f"end of stream (frame {r['frame']}): {r['name']} {r['probability']:.3f}"
                  " (the whole clip, as predict.py)")  # fmt: skip
        else:
            print(f"frame {r['frame']:5d}: {r['name']} {r['probability']:.3f}"
                  f"  ({r['latency_ms']:.1f} ms)")  # fmt: skip
        sys.stdout.flush()
    return 0


if __name__ == "__main__":
    raise SystemExit(cli.run(main))
