"""Online inference of MS-G3D Net: step-wise evaluation against re-running the clip model.

A live skeleton stream gets a prediction by running the clip model on the last T frames
at every new frame, or, with :mod:`skelgraph.nn.streaming`, by ``forward_steps`` on the
new frame alone: every layer keeps the few input frames its windows still need, so a frame
costs about 1/T of the clip, and the last block (stride 2·2) emits one output frame, hence
one prediction, every 4 input frames. Both give the offline model's numbers exactly.

Measured per preset, batch 1, at steady state (after a warm-up stream of T frames, so the
buffers and the pooling window are full), interleaved in one process:

- ``rerun``: ``model(last T frames)`` under ``no_grad`` (skelgraph, and with
  ``--reference PATH``, a local clone of the authors' MS-G3D repository never vendored
  here, their ``Model`` for NTU-60);
- ``stream``: ``forward_steps`` of one frame; per frame (mean over the 4-frame cycle) and
  for the frame that emits a prediction (the costliest: it runs all three blocks);
- ``stream, 4-frame chunks``: ``forward_steps`` of a whole cycle at once, as a source that
  delivers frames in groups (or a replay) would call it: the same numbers and multiply-adds,
  each layer's operations run once per chunk instead of once per frame;
- multiply-adds of each (``torch.utils.flop_counter.FlopCounterMode``, in-place matrix
  products counted, flops / 2), the state's memory (``state_nbytes``) and predictions per
  second of the frame-by-frame stream (one per 4-frame cycle).

Results go to ``benchmarks/results/streaming.md`` and ``streaming.json``. ``--causal``
measures each preset's causal model (``causal=True``: no delay, the same windows moved)
beside the symmetric one, one after the other in the same process, and compares their stream costs
(``streaming-causal.md`` and ``.json``).

    python -m benchmarks.streaming --reference ~/src/MS-G3D   # full run (minutes)
    python -m benchmarks.streaming --quick                     # tiny run, seconds (CI)
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from datetime import datetime, timezone
from pathlib import Path

import torch

from benchmarks.provenance import command_line, machine
from benchmarks.speed import multiply_adds, with_authors_path
from examples.msg3d import cli
from examples.msg3d.config import int_setting

ROOT = Path(__file__).resolve().parents[1]
# (joints, persons) of each preset's input
PRESETS = {"ntu60": (25, 2), "nw-ucla-small": (20, 1)}


def authors_model(preset: str, reference: str | None):
    """The authors' Model for the preset, or ``None`` (no clone given, or no config).

    Their top-level packages (``model``, ``graph``) are importable through ``PYTHONPATH``,
    which :func:`main` sets for itself (a fresh process) when given ``--reference``.
    """
    if reference is None or preset != "ntu60":
        return None
    from model.msg3d import Model

    return Model(60, 25, 2, 13, 6, "graph.ntu_rgb_d.AdjMatrixGraph").eval()


def _resolved(path: str) -> str:
    return str(Path(path).resolve()) if path else ""


def timed(fn) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def measure(
    preset: str, frames: int, repeats: int, cycles: int, reference: str | None, causal: bool = False
) -> dict:
    """One preset's model (``causal``: its causal variant): the rerun and stream costs,
    interleaved."""
    from examples.msg3d.model import MSG3DNet

    torch.manual_seed(0)
    model = MSG3DNet.from_preset(preset, stream_window=frames, causal=causal).eval()
    authors = authors_model(preset, reference)
    joints, persons = PRESETS[preset]
    stride = model.stride
    warm = frames + model.delay  # full buffers and a full pooling window
    total = warm + stride * (2 * repeats * cycles + 4)  # warm-up, phase, cycles, counts
    x = torch.randn(1, 3, total, joints, persons)
    position = 0

    def step(frames: int = 1) -> int:
        nonlocal position
        if position + frames > total:
            raise AssertionError("the benchmark's stream ran out of frames")
        out = model.forward_steps(x[:, :, position : position + frames])
        position += frames
        return out.shape[2]

    warm_up = timed(lambda: [step() for _ in range(warm)])
    while step() == 0:  # align the cycle: the next step after a prediction starts it
        pass

    def clip() -> torch.Tensor:
        return x[:, :, position - frames : position]

    with torch.no_grad():
        model(clip())  # warm-up of the clip path
        if authors is not None:
            authors(clip())
    rerun_macs = multiply_adds(lambda: model(clip()))
    authors_macs = multiply_adds(lambda: authors(clip())) if authors is not None else None
    emitted: list[int] = []
    cycle_macs = multiply_adds(lambda: emitted.extend(step() for _ in range(stride)))
    assert emitted[-1] == 1 and sum(emitted) == 1, emitted
    rerun_s, authors_s, frame_s, emit_s, cycle_s, chunk_s = [], [], [], [], [], []
    for _ in range(repeats):
        with torch.no_grad():
            rerun_s.append(timed(lambda: model(clip())))
            if authors is not None:
                authors_s.append(timed(lambda: authors(clip())))
        for _ in range(cycles):
            times = []
            for _ in range(stride):
                start = time.perf_counter()
                ready = step()
                times.append(time.perf_counter() - start)
            if ready != 1:
                raise AssertionError("the cycle lost its phase")
            frame_s.extend(times)
            emit_s.append(times[-1])
            cycle_s.append(sum(times))
        for _ in range(cycles):
            start = time.perf_counter()
            ready = step(stride)
            chunk_s.append(time.perf_counter() - start)
            if ready != 1:
                raise AssertionError("the chunked cycle lost its phase")
    # multiply-adds of the emitting frame alone: the cycle's last step
    emitted.clear()
    for _ in range(stride - 1):
        step()
    emit_macs = multiply_adds(lambda: emitted.append(step()))
    assert emitted == [1]
    state = model.state_nbytes()
    model.clean_state()
    median = statistics.median
    result = {
        "preset": preset,
        "causal": causal,
        "frames": frames,
        "stride": stride,
        "delay": model.delay,
        "warm_up_s": warm_up,
        "rerun_s": median(rerun_s),
        "authors_rerun_s": median(authors_s) if authors_s else None,
        "frame_s": statistics.mean(frame_s),
        "emit_frame_s": median(emit_s),
        "cycle_s": median(cycle_s),
        "predictions_per_s": 1 / median(cycle_s),
        "chunk_s": median(chunk_s),
        "chunk_predictions_per_s": 1 / median(chunk_s),
        "rerun_macs": rerun_macs,
        "authors_rerun_macs": authors_macs,
        "frame_macs": cycle_macs / stride,
        "emit_frame_macs": emit_macs,
        "state_bytes": state,
        "repeats": repeats,
        "cycles": cycles,
        "times": {
            "rerun_s": rerun_s,
            "authors_rerun_s": authors_s,
            "cycle_s": cycle_s,
            "chunk_s": chunk_s,
        },
    }
    return result


def table(results: list[dict]) -> list[str]:
    lines = [
        "| preset | method | latency per prediction (ms) | multiply-adds per prediction | "
        "per frame (ms) | multiply-adds per frame | predictions/s | state (KiB) |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for r in results:
        name = f"{r['preset']}{', causal' if r.get('causal') else ''} (T = {r['frames']})"
        for label, key in (
            ("rerun clip, skelgraph", "rerun"),
            ("rerun clip, authors", "authors_rerun"),
        ):
            if r[f"{key}_s"] is None:
                continue
            seconds, macs = r[f"{key}_s"], r[f"{key}_macs"]
            lines.append(
                f"| {name} | {label} | {1e3 * seconds:.1f} | {macs / 1e9:.2f} G | "
                f"{1e3 * seconds:.1f} | {macs / 1e9:.2f} G | {1 / seconds:.2f} | – |"
            )
        lines.append(
            f"| {name} | stream, frame by frame | {1e3 * r['emit_frame_s']:.2f} "
            f"(emitting frame) | {r['emit_frame_macs'] / 1e6:.1f} M | {1e3 * r['frame_s']:.2f} | "
            f"{r['frame_macs'] / 1e6:.1f} M | {r['predictions_per_s']:.1f} | "
            f"{r['state_bytes'] / 1024:.0f} |"
        )
        lines.append(
            f"| {name} | stream, {r['stride']}-frame chunks | {1e3 * r['chunk_s']:.2f} "
            f"(per chunk) | {r['stride'] * r['frame_macs'] / 1e6:.1f} M | "
            f"{1e3 * r['chunk_s'] / r['stride']:.2f} | {r['frame_macs'] / 1e6:.1f} M | "
            f"{r['chunk_predictions_per_s']:.1f} | {r['state_bytes'] / 1024:.0f} |"
        )
    lines += ["", "| preset | vs | multiply-adds per frame | latency per frame | "
              "latency of the emitting frame | multiply-adds of the emitting frame |",
              "|---|---|---|---|---|---|"]  # fmt: skip
    for r in results:
        for label, key in (("skelgraph rerun", "rerun"), ("authors rerun", "authors_rerun")):
            if r[f"{key}_s"] is None:
                continue
            seconds, macs = r[f"{key}_s"], r[f"{key}_macs"]
            lines.append(
                f"| {r['preset']} | {label} | {macs / r['frame_macs']:.0f}× fewer | "
                f"{seconds / r['frame_s']:.0f}× lower | {seconds / r['emit_frame_s']:.0f}× lower | "
                f"{macs / r['emit_frame_macs']:.0f}× fewer |"
            )
    pairs = [(r, c) for r in results for c in results
             if c["preset"] == r["preset"] and c.get("causal") and not r.get("causal")]  # fmt: skip
    if pairs:
        lines += ["", "| preset | causal stream against symmetric | multiply-adds per frame | "
                  "time per frame | time per prediction (4-frame cycle) |",
                  "|---|---|---|---|---|"]  # fmt: skip
        for r, c in pairs:
            lines.append(
                f"| {r['preset']} | ratio | {c['frame_macs'] / r['frame_macs']:.2f}× | "
                f"{c['frame_s'] / r['frame_s']:.2f}× | {c['cycle_s'] / r['cycle_s']:.2f}× |"
            )
    return lines


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--reference", help="local clone of the authors' MS-G3D repository")
    parser.add_argument("--presets", nargs="+", default=list(PRESETS), choices=list(PRESETS))
    count = cli.bounded_int(1, 10_000)
    # T: at least one stride cycle of the model (4 frames); at most a long recording
    frames = cli.bounded_int(4, 100_000)
    parser.add_argument("--frames", type=frames, default=300, help="T, the clip and the window")
    parser.add_argument("--repeats", type=count, default=5, help="timed clip reruns")
    parser.add_argument("--cycles", type=count, default=8, help="stream cycles per rerun")
    parser.add_argument("--threads", type=int_setting("threads"), default=2)
    parser.add_argument("--quick", action="store_true", help="tiny run for a smoke test")
    parser.add_argument(
        "--causal", action="store_true", help="measure each preset's causal model beside it"
    )
    parser.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results")
    args = parser.parse_args(argv)
    paths = os.environ.get("PYTHONPATH", "").split(os.pathsep)
    if args.reference and str(Path(args.reference).resolve()) not in map(_resolved, paths):
        # Run again with the authors' clone importable (no edit of this process's sys.path).
        env = with_authors_path(dict(os.environ), args.reference)
        command = [sys.executable, "-m", "benchmarks.streaming", *(argv or sys.argv[1:])]
        raise SystemExit(subprocess.run(command, env=env, cwd=ROOT, check=False).returncode)
    if args.quick:
        args.presets, args.frames, args.repeats, args.cycles = ["nw-ucla-small"], 16, 1, 1
    torch.set_num_threads(args.threads)
    results = []
    for preset in args.presets:
        for causal in (False, True) if args.causal else (False,):
            print(f"{preset}{' causal' if causal else ''}, T = {args.frames} ...", flush=True)
            r = measure(preset, args.frames, args.repeats, args.cycles, args.reference, causal)
            print(
                f"  rerun {r['rerun_s'] * 1e3:.1f} ms, stream {r['frame_s'] * 1e3:.2f} "
                f"ms/frame, {r['predictions_per_s']:.1f} predictions/s",
                flush=True,
            )
            results.append(r)
    args.out.mkdir(parents=True, exist_ok=True)
    command = command_line("streaming", argv)
    header = [
        "# Online inference (benchmarks/streaming.py)",
        "",
        f"- command: `{command.strip()}`",
        f"- date: {datetime.now(timezone.utc):%Y-%m-%d %H:%M UTC}",
        f"- torch {torch.__version__}, {args.threads} threads, batch 1, float32, CPU",
        f"- machine: {machine()}",
        "- rerun: the clip model on the last T frames (one prediction per run); stream: "
        "`forward_steps` of one frame at steady state, one prediction per 4 frames (the "
        "emitting frame runs all three blocks); times: medians of interleaved runs (per "
        "frame: the mean over the cycles); multiply-adds: FlopCounterMode / 2",
        "",
    ]
    name = "streaming" + ("-causal" if args.causal else "") + ("-quick" if args.quick else "")
    (args.out / f"{name}.md").write_text("\n".join(header + table(results)) + "\n")
    (args.out / f"{name}.json").write_text(json.dumps(results, indent=1))
    print("\n".join(table(results)))


if __name__ == "__main__":
    main()
