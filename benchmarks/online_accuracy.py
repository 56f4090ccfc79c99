"""Early recognition: top-1 of MS-G3D Net's online predictions against the fraction of the
clip seen, on N-UCLA cross-view, for the exact (symmetric) stream and for causal models.

Checkpoints of ``train.py`` (N-UCLA, clips resampled to F frames) stream every test clip.
After t frames a stream's prediction is the latest it has emitted (none yet: counted
wrong); a stream's predictions do not depend on how its frames are chunked (the streaming
tests), so each clip is fed in the chunks that end at the measured fractions, many clips
at once. The curves:

- ``stream``: the symmetric model's exact stream (``--checkpoint``): its first prediction
  at frame ``delay + 1`` (73), then one per 4 frames; at the end ``flush()`` gives the
  offline logits, so its last point is the whole-clip accuracy (checked against
  ``forward``);
- ``prefix``: that model rerun on the t frames seen so far (what one has without
  streaming, a whole forward per prediction; its last frames see zero padding instead of
  their future);
- ``causal``: a causal model (``train.py --causal``, ``--causal-checkpoint``), whose stream
  predicts from the first frame and equals the model rerun on the prefix (the largest
  logit difference is recorded);
- ``finetuned``: the causal model fine-tuned from the symmetric checkpoint
  (``train.py --causal --init-from``, ``--finetuned-checkpoint``);
- ``prefix_causal`` and ``prefix_symmetric``: models trained on random prefixes of the
  clips (``train.py --min-prefix``), causal (its stream) and symmetric (rerun on the frames
  so far: the fair baseline for the former), ``--prefix-causal-checkpoint`` and
  ``--prefix-symmetric-checkpoint``.

Any of the checkpoints may be measured alone or with others (at least one; the test clips
are those of the first given, ``--checkpoint`` first), e.g. one more seed of a recipe
whose symmetric model was measured before. Each curve's area is its mean top-1 over the
ten fractions (10 %, ..., 100 %). The cost of
a prediction, for the symmetric and the causal model (the fine-tuned one is the causal
architecture): multiply-adds (``FlopCounterMode``) and milliseconds (median, batch 1, at
``--threads``) of a stream step of one frame and of the 4-frame cycle that makes one
prediction (one per frame with ``stream_every_frame``, the same computation), and of
rerunning the model on the whole clip.

    python -m examples.msg3d.train --dataset nw-ucla --data-root DATA --frames 128 --out SYM
    python -m examples.msg3d.train ... --causal --out CAUSAL
    python -m examples.msg3d.train ... --causal --init-from SYM/last.pt --out TUNED
    python -m examples.msg3d.train ... --epochs 30 --causal --min-prefix 0.1 --out PCAUSAL
    python -m examples.msg3d.train ... --epochs 30 --min-prefix 0.1 --out PSYM
    python -m benchmarks.online_accuracy --checkpoint SYM/last.pt --data-root DATA \\
        --causal-checkpoint CAUSAL/last.pt --finetuned-checkpoint TUNED/last.pt \\
        --prefix-causal-checkpoint PCAUSAL/last.pt --prefix-symmetric-checkpoint PSYM/last.pt

Results go to ``benchmarks/results/online-accuracy.md``, ``.json`` and ``.png``.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import math
import statistics
import time
from datetime import datetime, timezone
from pathlib import Path

import numpy as np
import torch

from benchmarks.provenance import command_line, machine, results_stem
from benchmarks.streaming import multiply_adds
from examples.msg3d import cli
from examples.msg3d.config import TrainConfig, int_setting
from examples.msg3d.datasets import build_datasets
from examples.msg3d.predict import Predictor, load_checkpoint

ROOT = Path(__file__).resolve().parents[1]
FRACTIONS = [i / 10 for i in range(1, 11)]
CURVES = {  # key: label in the table and the figure
    "stream": "symmetric: exact stream",
    "prefix": "symmetric: rerun on the frames so far",
    "causal": "causal: stream",
    "finetuned": "causal, fine-tuned from symmetric: stream",
    "prefix_symmetric": "symmetric, trained on prefixes: rerun on the frames so far",
    "prefix_causal": "causal, trained on prefixes: stream",
}
MODELS = {  # key: how the results header names the checkpoint's model
    "symmetric": "symmetric model",
    "causal": "causal model",
    "finetuned": "causal model fine-tuned from the symmetric one",
    "prefix_symmetric": "symmetric model trained on prefixes",
    "prefix_causal": "causal model trained on prefixes",
}
CAUSAL_KEYS = ("causal", "finetuned", "prefix_causal")  # their curve: the stream
BATCH = 58  # clips streamed at once (464 test clips: 8 batches)


def _clips(dataset, limit: int | None) -> tuple[torch.Tensor, torch.Tensor]:
    """The test clips (N, C, T, V, M) and labels (N,)."""
    count = len(dataset) if limit is None else min(limit, len(dataset))
    items = [dataset[i] for i in range(count)]
    clips = torch.stack([torch.as_tensor(np.asarray(x), dtype=torch.float32) for x, _ in items])
    return clips, torch.tensor([int(y) for _, y in items])


def cuts(frames: int) -> list[int]:
    """The number of frames seen at each fraction."""
    return [max(1, math.ceil(f * frames)) for f in FRACTIONS]


@torch.no_grad()
def stream_logits(model, clips: torch.Tensor) -> tuple[list[torch.Tensor | None], torch.Tensor]:
    """For a batch of clips: the stream's latest logits after each cut (``None`` before its
    first prediction) and the logits of ``flush()``."""
    model.clean_state()
    latest, after, start = None, [], 0
    for cut in cuts(clips.shape[2]):
        out = model.forward_steps(clips[:, :, start:cut])
        latest = out[:, :, -1] if out.shape[2] else latest
        after.append(latest)
        start = cut
    return after, model.flush()


@torch.no_grad()
def curves(model, clips: torch.Tensor, labels: torch.Tensor, rerun: bool) -> dict:
    """Top-1 (%) after each fraction of the stream (the last point: ``flush()``) and, with
    ``rerun``, of the model on the frames so far; the largest logit difference of the
    flush from ``forward`` and of the stream from the rerun (the latter for a causal
    model, where they are equal)."""
    hits = {"stream": np.zeros(len(FRACTIONS)), "prefix": np.zeros(len(FRACTIONS))}
    flush_gap, prefix_gap = 0.0, 0.0
    for batch in range(0, len(clips), BATCH):
        x, y = clips[batch : batch + BATCH], labels[batch : batch + BATCH]
        after, final = stream_logits(model, x)
        whole = model(x)
        flush_gap = max(flush_gap, float((final - whole).abs().max()))
        after[-1] = final
        for j, (cut, logits) in enumerate(zip(cuts(x.shape[2]), after)):
            if logits is not None:
                hits["stream"][j] += int((logits.argmax(1) == y).sum())
            if rerun:
                prefix = whole if cut == x.shape[2] else model(x[:, :, :cut])
                hits["prefix"][j] += int((prefix.argmax(1) == y).sum())
                if model.causal and logits is not None:
                    prefix_gap = max(prefix_gap, float((prefix - logits).abs().max()))
    top1 = {k: (100 * v / len(clips)).tolist() for k, v in hits.items() if rerun or k == "stream"}
    return {"top1": top1, "flush_vs_forward_max_abs": flush_gap, "stream_vs_prefix": prefix_gap}


def _median_ms(fn, repeats: int) -> float:
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(1000 * (time.perf_counter() - start))
    return statistics.median(times)


@torch.no_grad()
def costs(model, clip: torch.Tensor, repeats: int) -> dict:
    """Multiply-adds and median ms of a stream step (one frame, and the stride-frame cycle
    that makes a prediction), at steady state after the clip, and of a rerun on the clip."""
    stride = model.stride
    cycle = clip[:, :, :stride]

    def warm() -> None:
        model.clean_state()
        model.forward_steps(clip)

    def steps() -> None:
        for t in range(stride):
            model.forward_steps(cycle[:, :, t : t + 1])

    warm()
    cycle_macs = multiply_adds(steps)
    times = []
    for _ in range(repeats):
        warm()
        times.append(_median_ms(steps, 1))
    model.clean_state()
    rerun_ms = _median_ms(lambda: model(clip), repeats)
    cycle_ms = statistics.median(times)
    return {
        "prediction_macs": cycle_macs,
        "frame_macs": cycle_macs / stride,
        "prediction_ms": cycle_ms,
        "frame_ms": cycle_ms / stride,
        "rerun_macs": multiply_adds(lambda: model(clip)),
        "rerun_ms": rerun_ms,
    }


def _model(path: str, data_root: str, cache_dir: str | None) -> tuple[torch.nn.Module, dict, dict]:
    """The model of a train.py N-UCLA checkpoint (its stream pooling the whole clip), its
    saved config, and the run's training config."""
    ckpt = load_checkpoint(path)
    fields = {f.name for f in dataclasses.fields(TrainConfig)}
    saved = {k: v for k, v in ckpt["config"].items() if k in fields}
    cache = cache_dir or str(Path(path).parent / "cache")
    cfg = TrainConfig(**{**saved, "data_root": data_root, "cache_dir": cache})
    if cfg.dataset != "nw-ucla":
        raise SystemExit(f"{path}: trained on {cfg.dataset!r}, not nw-ucla")
    model = Predictor(ckpt).model
    model.stream_window = max(model.stream_window, cfg.frames)
    return model, saved, dataclasses.asdict(cfg)


def _named(text: str, saved: dict) -> str:
    """A curve's or model's name, saying when a prefix-trained run also kept whole clips."""
    share = saved.get("whole_clips", 0.0)
    if not share:
        return text
    return text.replace("trained on prefixes", f"trained on prefixes and whole clips ({share:g})")


def _recipe(saved: dict) -> str:
    """A run's training options, as its results header states them."""
    parts = [f"preset {saved.get('preset')}", f"--frames {saved.get('frames')}"]
    parts += [f"--epochs {saved.get('epochs')}", f"--lr {saved.get('lr')}"]
    parts.append(f"seed {saved.get('seed')}")
    if saved.get("causal"):
        parts.append("--causal")
    if saved.get("init_from"):
        parts.append(f"--init-from {saved['init_from']}")
    if saved.get("min_prefix", 1.0) < 1.0:
        parts.append(f"--min-prefix {saved['min_prefix']}")
        if saved.get("whole_clips", 0.0) > 0.0:
            parts.append(f"--whole-clips {saved['whole_clips']}")
    return ", ".join(parts)


def _curve_labels(result: dict) -> dict[str, str]:
    """Each measured curve's label (older results have no ``labels``)."""
    return {k: result.get("labels", {}).get(k, v) for k, v in CURVES.items()}


def plot(result: dict, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fractions = [100 * f for f in result["fractions"]]
    fig, ax = plt.subplots(figsize=(6.4, 5.4), dpi=110)
    styles = {
        "stream": "o-", "prefix": "s--", "causal": "^-", "finetuned": "v-",
        "prefix_symmetric": "D--", "prefix_causal": "*-",
    }  # fmt: skip
    for key, label in _curve_labels(result).items():
        if key in result["curves"]:
            area = result["area"][key]
            ax.plot(fractions, result["curves"][key], styles[key], label=f"{label} ({area:.1f})")
    if "whole_clip_top1" in result:  # a symmetric model was measured
        ax.axhline(result["whole_clip_top1"], color="grey", lw=1, label="symmetric, whole clip")
        first = 100 * (result["delay"] + 1) / result["frames"]
        ax.axvline(first, color="grey", ls=":", lw=1)
        ax.annotate(" symmetric stream's first prediction", (first, 3), fontsize=8, color="grey")
    ax.set_xlabel(f"clip seen (% of {result['frames']} frames)")
    ax.set_ylabel("top-1 (%)")
    ax.set_ylim(0, 100)
    ax.set_xlim(0, 102)
    ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.14), ncol=2, fontsize=8,
              title="curve (area: mean top-1)", title_fontsize=8)  # fmt: skip
    ax.set_title(f"N-UCLA cross-view, {result['samples']} test clips", fontsize=10)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)


def table(result: dict) -> list[str]:
    fractions = result["fractions"]
    lines = ["| clip seen | " + " | ".join(f"{100 * f:.0f} %" for f in fractions) + " | area |"]
    lines.append("|---" * (len(fractions) + 2) + "|")
    for key, label in _curve_labels(result).items():
        if key in result["curves"]:
            values = " | ".join(f"{v:.1f}" for v in result["curves"][key])
            lines.append(f"| {label} | {values} | {result['area'][key]:.1f} |")
    return lines


def cost_table(result: dict) -> list[str]:
    lines = [
        "| model | stream: multiply-adds / prediction | ms / prediction | ms / frame "
        "| rerun on the clip: multiply-adds | ms |",
        "|---|---|---|---|---|---|",
    ]
    for key, c in result["cost"].items():
        lines.append(
            f"| {key} | {c['prediction_macs'] / 1e6:.1f} M | {c['prediction_ms']:.1f} | "
            f"{c['frame_ms']:.2f} | {c['rerun_macs'] / 1e6:.0f} M | {c['rerun_ms']:.1f} |"
        )
    return lines


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--checkpoint",
        help="train.py's last.pt of a symmetric model (N-UCLA; the final epoch, not one picked "
        "on the test split): its exact stream and its rerun on the frames so far",
    )
    parser.add_argument("--causal-checkpoint", help="last.pt of train.py --causal")
    parser.add_argument(
        "--finetuned-checkpoint", help="last.pt of train.py --causal --init-from CHECKPOINT"
    )
    parser.add_argument(
        "--prefix-causal-checkpoint", help="last.pt of train.py --causal --min-prefix F"
    )
    parser.add_argument(
        "--prefix-symmetric-checkpoint",
        help="last.pt of train.py --min-prefix F (symmetric; its curve: the rerun on the prefix)",
    )
    parser.add_argument("--data-root", required=True, help="the N-UCLA folder with all_sqe/")
    parser.add_argument("--cache-dir", help="train.py's dataset cache (default: beside it)")
    parser.add_argument(
        "--limit", type=cli.bounded_int(1, 10**9), help="only the first N test clips"
    )
    parser.add_argument("--threads", type=int_setting("threads"), default=2)
    parser.add_argument(
        "--repeats", type=cli.bounded_int(1, 10_000), default=20, help="timings per cost"
    )
    parser.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results")
    parser.add_argument(
        "--name", type=results_stem, default="online-accuracy",
        help="the results files' stem: NAME.md, NAME.json, NAME.png in --out",
    )  # fmt: skip
    args = parser.parse_args(argv)
    given = {"symmetric": args.checkpoint}
    given |= {key: getattr(args, f"{key}_checkpoint") for key in (*CAUSAL_KEYS, "prefix_symmetric")}
    given = {key: path for key, path in given.items() if path is not None}
    if not given:
        parser.error("expected a checkpoint to measure: --checkpoint or a --*-checkpoint")
    torch.set_num_threads(args.threads)
    loaded = {key: _model(path, args.data_root, args.cache_dir) for key, path in given.items()}
    first, saved, cfg = next(iter(loaded.values()))  # its test clips are everyone's
    clips, labels = _clips(build_datasets(TrainConfig(**cfg)).test, args.limit)
    result: dict = {
        "samples": len(clips),
        "frames": clips.shape[2],
        "stride": first.stride,
        "fractions": FRACTIONS,
        "curves": {},
        "recipes": {},
        "labels": {},
        "models": {},
        "cost": {},
    }
    for key, (model, saved_model, _) in loaded.items():
        causal = key in CAUSAL_KEYS
        if model.causal != causal:
            kind = "a causal model (train.py --causal)" if causal else "a symmetric model"
            raise SystemExit(f"{given[key]}: not {kind}")
        measured = curves(model, clips, labels, rerun=True)
        result["recipes"][key] = _recipe(saved_model)
        if key == "symmetric":  # two curves: its exact stream and its rerun on the prefix
            top1 = measured["top1"]
            result["curves"] |= top1
            result |= {
                "delay": model.delay,
                "whole_clip_top1": top1["stream"][-1],
                "flush_vs_forward_max_abs": measured["flush_vs_forward_max_abs"],
            }
            result["cost"]["symmetric"] = costs(model, clips[:1], args.repeats)
            continue
        result["curves"][key] = measured["top1"]["stream" if causal else "prefix"]
        result[f"{key}_whole_clip_top1"] = measured["top1"]["stream"][-1]
        result[f"{key}_stream_vs_prefix_max_abs"] = measured["stream_vs_prefix"]
        result["labels"][key] = _named(CURVES[key], saved_model)
        result["models"][key] = _named(MODELS[key], saved_model)
        if key == "causal":
            result["cost"]["causal"] = costs(model, clips[:1], args.repeats)
    result["area"] = {k: float(np.mean(v)) for k, v in result["curves"].items()}
    command = command_line("online_accuracy", argv)
    result.update(command=command, config={k: saved.get(k) for k in ("frames", "epochs", "seed")})
    args.out.mkdir(parents=True, exist_ok=True)
    plot(result, args.out / f"{args.name}.png")
    models = MODELS | result["models"]
    recipes = [
        f"- {models[k]}: train.py --dataset nw-ucla, {r}" for k, r in result["recipes"].items()
    ]
    first_predictions, whole = [], []
    if "whole_clip_top1" in result:
        first_predictions.append(f"the symmetric stream's at frame {result['delay'] + 1}")
        whole += [
            f"- whole clip (forward), symmetric: {result['whole_clip_top1']:.1f} % top-1",
            f"- the symmetric stream's flush() differs from forward by at most "
            f"{result['flush_vs_forward_max_abs']:.1e} in any logit",
        ]
    if set(CAUSAL_KEYS) & set(result["curves"]):
        first_predictions.append("the causal streams' at frame 1")
    for key in (*CAUSAL_KEYS, "prefix_symmetric"):
        if key in result["curves"]:
            top1, gap = result[f"{key}_whole_clip_top1"], result[f"{key}_stream_vs_prefix_max_abs"]
            exact = (
                f"; its stream equals the model rerun on the frames so far within {gap:.1e} "
                "in any logit"
            )
            whole.append(
                f"- whole clip, {models[key]}: {top1:.1f} % top-1"
                + (exact if key in CAUSAL_KEYS else "")
            )
    header = [
        "# Early recognition on N-UCLA (benchmarks/online_accuracy.py)",
        "",
        f"- command: `{command.strip()}`",
        *recipes,
        f"- date: {datetime.now(timezone.utc):%Y-%m-%d %H:%M UTC}; torch {torch.__version__}; "
        f"{machine()}",
        f"- {result['samples']} cross-view test clips of {result['frames']} frames"
        + (
            f"; first predictions: {', '.join(first_predictions)}, then one per "
            f"{result['stride']} frames; before the first, none (counted wrong)"
            if first_predictions
            else ""
        ),
        *whole,
        "",
        "Top-1 (%) after each fraction of the clip, and the area under each curve (its mean "
        "over the ten points):",
        "",
    ]
    costs_text = [
        "",
        f"Cost of a prediction, batch 1, {args.threads} thread(s), median of {args.repeats} "
        "(a prediction is one stride cycle of single-frame steps at steady state; the rerun "
        f"is one forward on the {result['frames']}-frame clip). Compare times within this "
        "table only: they depend on the machine's load when it ran.",
        "",
        *cost_table(result),
    ]
    if not result["cost"]:  # timed for the symmetric and the causal model only
        costs_text = []
    text = "\n".join([*header, *table(result), *costs_text, "", f"![]({args.name}.png)", ""])
    (args.out / f"{args.name}.md").write_text(text)
    (args.out / f"{args.name}.json").write_text(json.dumps(result, indent=1))
    print(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
