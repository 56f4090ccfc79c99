"""How well online predictions do: top-1 of MS-G3D Net's streaming prediction against the
fraction of the clip seen, on N-UCLA cross-view, beside the whole-clip accuracy.

A checkpoint of ``train.py`` (N-UCLA, clips resampled to F frames) streams every test clip
frame by frame (``forward_steps``). After t frames the stream's prediction is the latest it
has emitted: the first comes at frame ``delay + 1`` (73), then one every 4 frames, each
pooling the output frames that are complete, i.e. those whose inputs all arrived (none
before that: counted as wrong). At the end of the clip ``flush()`` gives the offline
logits, so the last point is the whole-clip accuracy exactly (checked against ``forward``).
Beside it, ``prefix``: the clip model rerun on the t frames seen so far (what one has
without streaming, at the cost of a whole forward per prediction; its last frames see
zero padding instead of their future).

    python -m examples.msg3d.train --dataset nw-ucla --data-root DATA --frames 128 --out RUN
    python -m benchmarks.online_accuracy --checkpoint RUN/best.pt --data-root DATA

Results go to ``benchmarks/results/online-accuracy.md``, ``.json`` and ``.png``.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import math
import sys
from datetime import datetime, timezone
from pathlib import Path

import numpy as np
import torch

from benchmarks.speed import machine
from examples.msg3d.config import TrainConfig
from examples.msg3d.datasets import build_datasets
from examples.msg3d.predict import Predictor, load_checkpoint

ROOT = Path(__file__).resolve().parents[1]
FRACTIONS = [i / 10 for i in range(1, 11)]


def stream_predictions(model, clip: torch.Tensor) -> tuple[list[int | None], torch.Tensor]:
    """The stream's top-1 after each frame of ``clip`` (1, C, T, V, M), ``None`` before its
    first prediction, and the flush's logits."""
    model.clean_state()
    latest, after = None, []
    for t in range(clip.shape[2]):
        logits = model.forward_steps(clip[:, :, t : t + 1])
        if logits.shape[2]:
            latest = int(logits[0, :, -1].argmax())
        after.append(latest)
    return after, model.flush()[0]


@torch.no_grad()
def measure(predictor: Predictor, dataset, limit: int | None = None) -> dict:
    model = predictor.model
    indices = range(len(dataset)) if limit is None else range(min(limit, len(dataset)))
    stream_hits = np.zeros(len(FRACTIONS))
    prefix_hits = np.zeros(len(FRACTIONS))
    whole_hits, largest_gap, count, frames = 0, 0.0, 0, None
    for i in indices:
        x, label = dataset[i]
        clip = torch.as_tensor(np.asarray(x), dtype=torch.float32)[None]
        frames = clip.shape[2]
        after, final = stream_predictions(model, clip)
        offline = model(clip)[0]
        largest_gap = max(largest_gap, float((final - offline).abs().max()))
        whole_hits += int(offline.argmax()) == int(label)
        for j, fraction in enumerate(FRACTIONS):
            t = max(1, math.ceil(fraction * frames))
            guess = int(final.argmax()) if t == frames else after[t - 1]
            stream_hits[j] += guess == int(label)
            prefix = offline if t == frames else model(clip[:, :, :t])[0]  # the whole clip
            prefix_hits[j] += int(prefix.argmax()) == int(label)
        count += 1
    return {
        "samples": count,
        "frames": frames,
        "delay": model.delay,
        "stride": model.stride,
        "fractions": FRACTIONS,
        "stream_top1": (100 * stream_hits / count).tolist(),
        "prefix_top1": (100 * prefix_hits / count).tolist(),
        "whole_clip_top1": 100 * whole_hits / count,
        "flush_vs_forward_max_abs": largest_gap,
    }


def plot(result: dict, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fractions = [100 * f for f in result["fractions"]]
    fig, ax = plt.subplots(figsize=(6.4, 4.0), dpi=110)
    ax.plot(fractions, result["stream_top1"], "o-", label="stream (forward_steps)")
    ax.plot(fractions, result["prefix_top1"], "s--", label="clip model on the frames so far")
    ax.axhline(result["whole_clip_top1"], color="grey", lw=1, label="whole clip")
    first = 100 * (result["delay"] + 1) / result["frames"]
    ax.axvline(first, color="grey", ls=":", lw=1)
    ax.annotate(" first streaming prediction", (first, 5), fontsize=9, color="grey")
    ax.set_xlabel(f"clip seen (% of {result['frames']} frames)")
    ax.set_ylabel("top-1 (%)")
    ax.set_ylim(0, 100)
    ax.set_xlim(0, 102)
    ax.legend(loc="upper left", fontsize=9)
    ax.set_title(f"N-UCLA cross-view, {result['samples']} test clips", fontsize=10)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)


def table(result: dict) -> list[str]:
    lines = ["| clip seen | " + " | ".join(f"{100 * f:.0f} %" for f in result["fractions"]) + " |"]
    lines.append("|---" * (len(result["fractions"]) + 1) + "|")
    for label, key in (
        ("stream", "stream_top1"),
        ("clip model on the frames so far", "prefix_top1"),
    ):
        lines.append(f"| {label} | " + " | ".join(f"{v:.1f}" for v in result[key]) + " |")
    return lines


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--checkpoint", required=True, help="train.py's best.pt (N-UCLA)")
    parser.add_argument("--data-root", required=True, help="the N-UCLA folder with all_sqe/")
    parser.add_argument("--cache-dir", help="train.py's dataset cache (default: beside it)")
    parser.add_argument("--limit", type=int, help="only the first N test clips")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results")
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    ckpt = load_checkpoint(args.checkpoint)
    fields = {f.name for f in dataclasses.fields(TrainConfig)}
    saved = {k: v for k, v in ckpt["config"].items() if k in fields}
    cache = args.cache_dir or str(Path(args.checkpoint).parent / "cache")
    cfg = TrainConfig(**{**saved, "data_root": args.data_root, "cache_dir": cache})
    if cfg.dataset != "nw-ucla":
        raise SystemExit(f"{args.checkpoint}: trained on {cfg.dataset!r}, not nw-ucla")
    test_set = build_datasets(cfg).test
    predictor = Predictor(ckpt)
    predictor.model.stream_window = max(predictor.model.stream_window, cfg.frames)
    result = measure(predictor, test_set, args.limit)
    command = "python -m benchmarks.online_accuracy " + " ".join(
        argv if argv is not None else sys.argv[1:]
    )
    result.update(command=command, config={k: saved.get(k) for k in ("frames", "epochs", "seed")})
    args.out.mkdir(parents=True, exist_ok=True)
    plot(result, args.out / "online-accuracy.png")
    header = [
        "# Online predictions on N-UCLA (benchmarks/online_accuracy.py)",
        "",
        f"- command: `{command.strip()}`",
        f"- checkpoint: train.py --dataset nw-ucla, preset {saved.get('preset')}, "
        f"--frames {cfg.frames}, --epochs {saved.get('epochs')}, seed {saved.get('seed')}",
        f"- date: {datetime.now(timezone.utc):%Y-%m-%d %H:%M UTC}; torch {torch.__version__}; "
        f"{machine()}",
        f"- {result['samples']} cross-view test clips of {result['frames']} frames; the stream's "
        f"first prediction at frame {result['delay'] + 1}, then one per {result['stride']} "
        "frames; before it none (counted wrong)",
        f"- whole clip (forward): {result['whole_clip_top1']:.1f} % top-1; the stream's "
        f"flush() differs from forward by at most {result['flush_vs_forward_max_abs']:.1e} "
        "in any logit",
        "",
        "Top-1 (%) after each fraction of the clip:",
        "",
    ]
    text = "\n".join([*header, *table(result), "", "![](online-accuracy.png)", ""])
    (args.out / "online-accuracy.md").write_text(text)
    (args.out / "online-accuracy.json").write_text(json.dumps(result, indent=1))
    print(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
