"""A/B of MS-G3D Net's stream step: two source trees in one process, cycles interleaved.

On a loaded machine a timing of one version, then the other, measures the load as much
as the code. Here both versions run in the same process, one 4-frame stride cycle of one,
then one of the other (the order alternating), for many rounds, so that the load falls on
both alike; the report is min and median per frame, per emitting frame and per cycle, the
ratio new/old of each, the stream states' sizes and the largest difference between the
two versions' predictions (same weights, same frames).

The old tree is any checkout of skelgraph, e.g. an earlier commit unpacked with
``git archive COMMIT | tar -x -C /tmp/old``:

    python -m benchmarks.stream_ab --old /tmp/old --threads 2 --rounds 200
"""

from __future__ import annotations

import argparse
import importlib
import statistics
import sys
import time
from collections.abc import Sequence
from pathlib import Path

import torch

from examples.msg3d import cli
from examples.msg3d.config import int_setting

ROOT = Path(__file__).resolve().parents[1]
JOINTS = {"ntu60": (25, 2), "nw-ucla-small": (20, 1)}  # (V, M) of each preset's input


def load_model(root: Path, preset: str, causal: bool) -> torch.nn.Module:
    """MSG3DNet of ``preset`` built from the tree at ``root`` (its own copy of skelgraph:
    the modules of a previous tree are dropped from ``sys.modules`` first)."""
    for name in [m for m in sys.modules if m.split(".")[0] in ("skelgraph", "examples")]:
        del sys.modules[name]
    sys.path.insert(0, str(root))
    try:
        module = importlib.import_module("examples.msg3d.model")
    finally:
        sys.path.remove(str(root))
    torch.manual_seed(0)
    return module.MSG3DNet.from_preset(preset, **({"causal": True} if causal else {})).eval()


def measure(models: dict, preset: str, rounds: int, warm: int) -> dict:
    """Per model: the times of every frame of the timed cycles (``frame``), of their
    emitting frames (``emit``) and of the cycles (``cycle``), and its predictions."""
    joints, persons = JOINTS[preset]
    stride = next(iter(models.values())).stride
    x = torch.randn(1, 3, warm + stride * (rounds + 2), joints, persons)
    position = dict.fromkeys(models, 0)
    predictions: dict = {key: [] for key in models}

    def step(key: str) -> torch.Tensor:
        out = models[key].forward_steps(x[:, :, position[key] : position[key] + 1])
        position[key] += 1
        predictions[key].append(out)
        return out

    for key in models:
        for _ in range(warm):
            step(key)
        while step(key).shape[2] == 0:  # the next step after a prediction starts a cycle
            pass
    times: dict = {key: {"frame": [], "emit": [], "cycle": []} for key in models}
    for r in range(rounds):
        for key in list(models) if r % 2 == 0 else list(models)[::-1]:
            frames = []
            for _ in range(stride):
                start = time.perf_counter()
                out = step(key)
                frames.append(time.perf_counter() - start)
            if out.shape[2] != 1:
                raise AssertionError("the cycle lost its phase")
            times[key]["frame"] += frames
            times[key]["emit"].append(frames[-1])
            times[key]["cycle"].append(sum(frames))
    return {"times": times, "predictions": {k: torch.cat(v, 2) for k, v in predictions.items()}}


def report(models: dict, result: dict) -> list[str]:
    """The table: min and median (ms) of each kind of time, and new/old."""
    old, new = result["times"]["old"], result["times"]["new"]
    lines = ["| time | old min | old median | new min | new median | new/old min | "
             "new/old median |", "|---|---|---|---|---|---|---|"]  # fmt: skip
    for kind in ("frame", "emit", "cycle"):
        a, b = old[kind], new[kind]
        lo, mid = min, statistics.median
        lines.append(
            f"| {kind} | {1e3 * lo(a):.3f} | {1e3 * mid(a):.3f} | {1e3 * lo(b):.3f} | "
            f"{1e3 * mid(b):.3f} | {lo(b) / lo(a):.3f} | {mid(b) / mid(a):.3f} |"
        )
    cycles = {key: statistics.median(result["times"][key]["cycle"]) for key in models}
    a, b = result["predictions"]["old"], result["predictions"]["new"]
    lines += [
        "",
        f"predictions/s (median cycle): old {1 / cycles['old']:.1f}, new {1 / cycles['new']:.1f}",
        f"state: old {models['old'].state_nbytes() / 2**20:.1f} MiB, "
        f"new {models['new'].state_nbytes() / 2**20:.1f} MiB",
        f"largest |new - old| over {a.shape[2]} predictions: {(a - b).abs().max().item():.3g}",
    ]
    return lines


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--old", type=Path, required=True, help="the old source tree")
    parser.add_argument("--new", type=Path, default=ROOT, help="the new one (default: this)")
    parser.add_argument("--preset", default="ntu60", choices=list(JOINTS))
    parser.add_argument("--causal", action="store_true", help="causal models")
    parser.add_argument("--threads", type=int_setting("threads"), default=2)
    parser.add_argument(
        "--rounds", type=cli.bounded_int(1, 10**6), default=200, help="timed cycles"
    )
    parser.add_argument("--warm", type=cli.bounded_int(0, 10**6), default=380, help="frames first")
    args = parser.parse_args(argv)
    for side in ("old", "new"):
        if not (getattr(args, side) / "examples" / "msg3d" / "model.py").is_file():
            parser.error(f"--{side} must be a skelgraph source tree, got {getattr(args, side)}")
    if args.threads < 1 or args.rounds < 1 or args.warm < 0:
        parser.error("--threads and --rounds must be at least 1 and --warm at least 0")
    torch.set_num_threads(args.threads)
    models = {side: load_model(getattr(args, side), args.preset, args.causal)
              for side in ("old", "new")}  # fmt: skip
    models["new"].load_state_dict(models["old"].state_dict())
    print("\n".join(report(models, measure(models, args.preset, args.rounds, args.warm))))


if __name__ == "__main__":
    main()
