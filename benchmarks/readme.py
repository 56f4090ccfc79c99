"""Write the README's figures block from the committed results.

The README quotes measurements only inside one block, between the markers below; this
script writes it from :mod:`benchmarks.figures`, each row with its results file, machine
and date. ``tests/benchmarks/test_readme.py`` fails when the block differs from what the
results give, so rerun this after committing new results::

    python -m benchmarks.readme          # rewrite the block in README.md
    python -m benchmarks.readme --check  # exit 1 if it is out of date
"""

from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path

from benchmarks.figures import Figure, figures

README = Path(__file__).resolve().parents[1] / "README.md"
BEGIN = "<!-- figures: written by `python -m benchmarks.readme` from benchmarks/results/ -->"
END = "<!-- /figures -->"

# (what was measured, the figures); {name} is a figure of benchmarks.figures. A row
# links every results file its figures come from, in the order it quotes them.
ROWS = [
    (
        "MS-G3D Net training step, batch 8, T = 100, against the authors' code at the same "
        "precision",
        "{limit.train8-float32.vs-same} faster in float32, {limit.train8-bf16.vs-same} in "
        "bf16 ({limit.train8-bf16.vs-float32} their float32)",
    ),
    (
        "MS-G3D Net inference, batch 8, T = 100, against the authors' code at the same precision",
        "{limit.infer8-float32.vs-same} faster in float32, {limit.infer8-bf16.vs-same} in "
        "bf16 ({limit.infer8-bf16.vs-float32} their float32)",
    ),
    (
        "The training step, batch 8, against this machine's matrix-product peak",
        "{limit.train8-float32.of-peak} of it in float32, {limit.train8-bf16.of-peak} in bf16",
    ),
    (
        "Peak memory of the training step, batch 8, T = 100, against the authors' code at "
        "the same precision",
        "peak RSS {memory.train8.float32} in float32, {memory.train8.bf16} under bf16 "
        "autocast ({memory.train8.float32.lean} and {memory.train8.bf16.lean} with an "
        "allocator that returns freed blocks, `--malloc lean`); live tensors "
        "{memory.train8.float32.tensors} and {memory.train8.bf16.tensors}",
    ),
    (
        "Activation checkpointing (`checkpoint=True`), training step, batch 8, float32",
        "{checkpoint.train8.memory-vs-plain} the peak memory for "
        "{checkpoint.train8.time-vs-plain} the time",
    ),
    (
        "N-UCLA cross-view top-1, CTR-GCN's recipe (all {recipe.joint.epochs} epochs), "
        "final epoch: `nw-ucla-small`, mean over seeds; the full-size MS-G3D Net, one seed",
        "small: joint {recipe.joint.top1} ({recipe.joint.seeds} seeds), bone "
        "{recipe.bone.top1} ({recipe.bone.seeds}), joint motion {recipe.joint-motion.top1} "
        "and bone motion {recipe.bone-motion.top1} ({recipe.bone-motion.seeds} each); joint "
        "and bone fused {recipe.fused-joint-bone.top1}, the four {recipe.fused.top1} "
        "({recipe.joint.epoch-seconds} per epoch on one CPU thread). Full size "
        "({recipe.largest-other.parameters} parameters): joint "
        "{recipe.largest-other.top1}, fused with the small bone stream "
        "{recipe.largest-other.fused.top1}",
    ),
    (
        "N-UCLA cross-view top-1, `nw-ucla-small`, 15 epochs, mean of {amp-accuracy.seeds} seeds",
        "{amp-accuracy.float32} in float32, {amp-accuracy.bf16} under bf16 autocast",
    ),
    (
        "Online inference, NTU-60 model: one new frame against rerunning the clip",
        "{stream.ntu60.frame-ms} against {stream.ntu60.rerun-ms} "
        "({stream.ntu60.fewer-macs} fewer multiply-adds); predictions/s on 2 threads: "
        "{stream.ntu60.predictions-per-s} frame by frame, "
        "{stream.ntu60.chunk-predictions-per-s} fed in 4-frame chunks",
    ),
    (
        "Early recognition, N-UCLA: top-1 after half of each clip / on whole clips / area "
        "under the curve; a causal model's stream, trained on prefixes and whole clips "
        "(`--min-prefix 0.1 --whole-clips 0.75`, {online-seeds-w75.runs} seeds); a "
        "symmetric model trained on whole clips, rerun on the frames so far "
        "({online-seeds-mixed.runs} seeds), and its exact stream",
        "{online-seeds-w75.prefix-trained-causal-half} / "
        "{online-seeds-w75.prefix-trained-causal-whole} / "
        "{online-seeds-w75.prefix-trained-causal-area}; {online-seeds-mixed.clip-half} / "
        "{online-seeds-mixed.clip-whole} / {online-seeds-mixed.clip-area}; "
        "{online-seeds-mixed.stream-half} / {online-seeds-mixed.stream-whole} / "
        "{online-seeds-mixed.stream-area}",
    ),
    (
        "Table 1 on N-UCLA, GCN, K = 11: disentangled minus powering, "
        "{accuracy.gcn-k11.seeds} paired seeds, 95 % interval",
        "{accuracy.gcn-k11.diff}",
    ),
    (
        "Weight on far joints (≥ 4 hops), disentangled against powering, NTU RGB+D, K = 13",
        "{bias.spatial.far-ratio} ({bias.spatial.far-dis} against {bias.spatial.far-pow})",
    ),
]
_NAME = re.compile(r"\{([^{}]+)\}")


def _fill(template: str, known: dict[str, Figure], used: list[Figure]) -> str:
    def replace(match: re.Match) -> str:
        used.append(known[match[1]])
        return known[match[1]].text

    return _NAME.sub(replace, template)


def block() -> str:
    """The figures block, markers included."""
    known = figures()
    lines = [BEGIN, "", "| measured | figure | results (machine, date) |", "|---|---|---|"]
    for what, figure in ROWS:
        used: list[Figure] = []
        cells = [_fill(what, known, used), _fill(figure, known, used)]
        if not used:
            raise ValueError(f"{what!r}: quotes no figure of the results files")
        links = [
            f"[{src.file}](benchmarks/results/{src.file}) ({src.machine}, {src.date})"
            for src in dict.fromkeys(f.source for f in used)
        ]
        lines.append(f"| {cells[0]} | {cells[1]} | {'; '.join(links)} |")
    return "\n".join([*lines, "", END])


def current(text: str) -> str:
    """The block as the README holds it."""
    start, end = text.find(BEGIN), text.find(END)
    if start < 0 or end < start:
        raise ValueError(f"README.md has no block between {BEGIN!r} and {END!r}")
    return text[start : end + len(END)]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.readme", description=__doc__)
    parser.add_argument("--check", action="store_true", help="exit 1 if README.md is out of date")
    parser.add_argument("--readme", type=Path, default=README, help="the README to write")
    args = parser.parse_args(argv)
    text = args.readme.read_text(encoding="utf-8")
    old, new = current(text), block()
    if args.check:
        if old != new:
            print(
                f"{args.readme}: the figures block is out of date; run python -m benchmarks.readme"
            )
            return 1
        return 0
    args.readme.write_text(text.replace(old, new), encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
