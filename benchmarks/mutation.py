"""Mutation testing with hand-written mutants: do the tests catch plausible one-line bugs?

Each mutant of :data:`benchmarks.mutants.MUTANTS` is applied, alone, to a temporary copy of
the repository (the working tree is never touched), and the mutant's own test files run
against it under ``nice`` with a time limit. A mutant is *killed* when the tests fail,
*survived* when they pass, *equivalent* when they pass and the table explains why no
test could fail, *timeout* when the tests hang. The kill rate is killed / (all -
equivalent), per module and overall; a timeout does not count as killed.

Not part of CI (minutes to an hour). Usage::

    python -m benchmarks.mutation                     # every mutant
    python -m benchmarks.mutation --only metrics-1    # some, by id
    python -m benchmarks.mutation --module skelgraph/nn --timeout 300
    python -m benchmarks.mutation --update --only ID ...  # rerun some, keep the rest

Results go to ``benchmarks/results/mutation.{md,json}`` (``--out``), with the command,
date and machine. Hand-written mutants rather than mutmut or cosmic-ray: those generate
thousands of mostly trivial mutants and run for hours on two cores; a short table of bugs
a developer could plausibly write, each run with the module's own tests, is both cheaper
and a better measure of what the suite guards.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from benchmarks.mutants import MUTANTS, Mutant
from examples.msg3d import cli

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results" / "mutation"
STATUSES = ("killed", "survived", "equivalent", "timeout", "error")


def mutant_ids(mutants: Sequence[Mutant]) -> list[str]:
    """Stable ids: the file's stem and the mutant's rank among that file's mutants."""
    seen: dict[str, int] = {}
    ids = []
    for m in mutants:
        stem = Path(m.file).stem
        seen[stem] = seen.get(stem, 0) + 1
        ids.append(f"{stem}-{seen[stem]}")
    return ids


def apply_mutant(root: Path, mutant: Mutant) -> tuple[str, int]:
    """Write ``mutant`` into ``root``'s copy of its file; return the original text and the
    1-based line where the change starts.

    Raises
    ------
    ValueError
        The snippet does not occur exactly once (the table is out of date).
    """
    path = root / mutant.file
    text = path.read_text(encoding="utf-8")
    count = text.count(mutant.original)
    if count != 1:
        raise ValueError(f"{mutant.file}: the snippet occurs {count} times, expected once")
    line = text[: text.index(mutant.original)].count("\n") + 1
    path.write_text(text.replace(mutant.original, mutant.mutated), encoding="utf-8")
    return text, line


def copy_tree(source: Path, target: Path) -> None:
    """Copy the files git knows of (tracked or not ignored) of ``source`` into ``target``,
    and link the shared fixtures beside it as the tests expect (``../shared``)."""
    listed = subprocess.run(
        ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
        cwd=source,
        capture_output=True,
        check=True,
    ).stdout.decode()
    for name in filter(None, listed.split("\0")):
        src = source / name
        if src.is_file():
            (target / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(src, target / name)
    shared = source.parent / "shared"
    if shared.exists() and not (target.parent / "shared").exists():
        (target.parent / "shared").symlink_to(shared.resolve())


def run_tests(
    root: Path, tests: Iterable[str], timeout: float, python: str = sys.executable
) -> tuple[str, float, str]:
    """Run ``tests`` in ``root`` (``nice``, ``-x``); return ("passed" | "failed" |
    "timeout" | "error", seconds, the last lines of output)."""
    command = ["nice", "-n", "10", python, "-m", "pytest", "-x", "-q", "-p", "no:cacheprovider"]
    env = {**os.environ, "PYTHONPATH": str(root), "PYTHONDONTWRITEBYTECODE": "1"}
    start = time.monotonic()
    process = subprocess.Popen(
        [*command, *tests],
        cwd=root,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        start_new_session=True,  # its own process group, to end it and its children
    )
    try:
        output, _ = process.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        output, _ = process.communicate()
        return "timeout", time.monotonic() - start, _tail(output)
    seconds = time.monotonic() - start
    # pytest: 0 all passed, 1 some failed, 2 interrupted (e.g. an import error), 5 none ran
    outcome = {0: "passed", 1: "failed", 2: "failed"}.get(process.returncode, "error")
    return outcome, seconds, _tail(output)


def _tail(output: bytes, lines: int = 3) -> str:
    return "\n".join(output.decode(errors="replace").strip().splitlines()[-lines:])


@dataclass
class Result:
    """One mutant's outcome: ``outcome`` is the test run's ("failed", "passed", "timeout",
    "error"), ``status`` what it means for the mutant."""

    id: str
    mutant: Mutant
    line: int
    outcome: str
    seconds: float
    detail: str

    @property
    def status(self) -> str:
        """killed, survived, equivalent (survived, with the table's reason), timeout, error."""
        if self.outcome == "passed":
            return "equivalent" if self.mutant.equivalent else "survived"
        return {"failed": "killed"}.get(self.outcome, self.outcome)


def run_mutants(
    mutants: Sequence[Mutant],
    ids: Sequence[str],
    root: Path,
    *,
    timeout: float,
    python: str = sys.executable,
    on_result: Callable[[Result], None] | None = None,
) -> list[Result]:
    """Run each mutant against its tests in ``root`` (a scratch copy, restored after each
    mutant); ``on_result`` sees each result as it comes. The unmutated tests run first,
    once per set of test files: a mutant whose tests already fail without it is an
    ``error``, not a kill."""
    baseline: dict[tuple[str, ...], str] = {}
    results = []
    for mutant_id, mutant in zip(ids, mutants, strict=True):
        if mutant.tests not in baseline:
            outcome, _, detail = run_tests(root, mutant.tests, timeout, python)
            baseline[mutant.tests] = outcome if outcome == "passed" else f"{outcome}: {detail}"
        if baseline[mutant.tests] != "passed":
            detail = "baseline " + baseline[mutant.tests]
            result = Result(mutant_id, mutant, 0, "error", 0.0, detail)
        else:
            original, line = apply_mutant(root, mutant)
            try:
                outcome, seconds, detail = run_tests(root, mutant.tests, timeout, python)
            finally:
                (root / mutant.file).write_text(original, encoding="utf-8")
            result = Result(mutant_id, mutant, line, outcome, seconds, detail)
        results.append(result)
        if on_result is not None:
            on_result(result)
    return results


def kill_rates(results: Sequence[Result]) -> dict[str, dict[str, float | int]]:
    """Per module and ``"overall"``: the count of each status and the kill rate."""
    groups: dict[str, list[Result]] = {}
    for r in results:
        groups.setdefault(r.mutant.module, []).append(r)
    groups = dict(sorted(groups.items()))
    groups["overall"] = list(results)
    table = {}
    for name, rows in groups.items():
        counts: dict[str, float | int] = {s: sum(r.status == s for r in rows) for s in STATUSES}
        counts["mutants"] = len(rows)
        scored = len(rows) - int(counts["equivalent"])
        counts["kill_rate"] = counts["killed"] / scored if scored else float("nan")
        table[name] = counts
    return table


def machine() -> str:
    """A one-line description of where the run happened."""
    return (
        f"{platform.node()}, {platform.machine()}, {os.cpu_count()} CPUs, "
        f"Python {platform.python_version()}, {platform.system()} {platform.release()}"
    )


_DEFINITION = ("file", "original", "mutated", "tests")


def load_results(path: Path, table: dict[str, Mutant]) -> tuple[list[dict], dict[str, Result]]:
    """The runs and results of an earlier ``path``.json whose mutants are still in the
    table unchanged (file, snippets, tests); a changed mutant, or one whose run ended in
    an error, is dropped, to be rerun."""
    if not path.with_suffix(".json").exists():
        return [], {}
    saved = json.loads(path.with_suffix(".json").read_text())
    kept = {}
    for row in saved["mutants"]:
        mutant = table.get(row["id"])
        if mutant is None or any(row[k] != _field(mutant, k) for k in _DEFINITION):
            continue
        if row["outcome"] == "error":
            continue
        kept[row["id"]] = Result(
            row["id"], mutant, row["line"], row["outcome"], row["seconds"], row["detail"]
        )
    return saved["runs"], kept


def _field(mutant: Mutant, key: str) -> object:
    value = getattr(mutant, key)
    return list(value) if isinstance(value, tuple) else value


def write_results(results: Sequence[Result], out: Path, runs: Sequence[dict]) -> None:
    """``out``.json (every mutant) and ``out``.md (the tables), with the ``runs`` (command,
    date, machine, commit, mutants run) that produced them."""
    rates = kill_rates(results)
    rows = [
        {
            "id": r.id,
            "module": r.mutant.module,
            **{k: _field(r.mutant, k) for k in _DEFINITION},
            "line": r.line,
            "bug": r.mutant.bug,
            "outcome": r.outcome,
            "status": r.status,
            "seconds": round(r.seconds, 2),
            "equivalent": r.mutant.equivalent,
            "detail": r.detail if r.status in ("survived", "error", "timeout") else "",
        }
        for r in results
    ]
    out.parent.mkdir(parents=True, exist_ok=True)
    document = {"runs": list(runs), "kill_rates": rates, "mutants": rows}
    out.with_suffix(".json").write_text(json.dumps(document, indent=1) + "\n")
    lines = [
        "# Mutation testing",
        "",
        "Hand-written mutants (`benchmarks/mutants.py`), each applied alone to a temporary "
        "copy of the repository and run against its module's own test files "
        "(`pytest -x`, under `nice`). Kill rate = killed / (mutants - equivalent); a timeout "
        "is not a kill. Generated by `benchmarks/mutation.py`; do not edit.",
        "",
        f"- date: {runs[-1]['date']} (the last run; every run below)",
        f"- machine: {runs[-1]['machine']}",
        "",
        "| run | command | date | machine | commit | mutants run |",
        "|---:|---|---|---|---|---:|",
    ]
    for i, run in enumerate(runs, 1):
        lines.append(
            f"| {i} | `{run['command']}` | {run['date']} | {run['machine']} | "
            f"{run['commit']} | {run['mutants']} |"
        )
    lines += [
        "",
        "Each mutant's result is from the latest run that ran it; a later run reruns the "
        "mutants whose definition changed and those it is asked for (`--update`).",
        "",
        "| module | mutants | killed | survived | equivalent | timeout | error | kill rate |",
        "|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for name, c in rates.items():
        label = f"**{name}**" if name == "overall" else f"`{name}`"
        lines.append(
            f"| {label} | {c['mutants']} | {c['killed']} | {c['survived']} | "
            f"{c['equivalent']} | {c['timeout']} | {c['error']} | {100 * c['kill_rate']:.1f} % |"
        )
    lines += ["", "## Survivors, equivalent mutants, timeouts and errors", ""]
    others = [r for r in results if r.status != "killed"]
    if not others:
        lines.append("None: every mutant was killed.")
    for r in others:
        lines.append(f"- `{r.id}` ({r.status}), `{r.mutant.file}:{r.line}`: {r.mutant.bug}.")
        if r.mutant.equivalent:
            lines.append(f"  Equivalent: {r.mutant.equivalent}.")
        elif r.detail:
            lines.append(f"  Last output: `{r.detail.splitlines()[-1]}`")
    lines += [
        "",
        "## Every mutant",
        "",
        "| id | status | s | bug | tests |",
        "|---|---|---:|---|---|",
    ]
    for r in results:
        tests = ", ".join(Path(t).name for t in r.mutant.tests)
        lines.append(f"| `{r.id}` | {r.status} | {r.seconds:.1f} | {r.mutant.bug} | {tests} |")
    out.with_suffix(".md").write_text("\n".join(lines) + "\n")


def _commit(root: Path) -> str:
    try:
        return subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"], cwd=root, capture_output=True, text=True
        ).stdout.strip()
    except OSError:
        return "unknown"


def main(argv: Sequence[str] | None = None) -> int:
    """Run the mutants chosen on the command line and write the results."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", nargs="+", metavar="ID", help="mutant ids (see --list)")
    parser.add_argument("--module", help="only the mutants of this module group")
    parser.add_argument(
        "--timeout", type=cli.bounded_float(1, 86_400), default=600.0, help="seconds per test run"
    )
    parser.add_argument("--out", type=Path, default=RESULTS, help="results path, no suffix")
    parser.add_argument(
        "--update",
        action="store_true",
        help="keep the results in --out of mutants not chosen and unchanged; run the chosen "
        "ones and those whose definition changed",
    )
    parser.add_argument("--list", action="store_true", help="list the mutants and exit")
    args = parser.parse_args(argv)
    ids = mutant_ids(MUTANTS)
    table = dict(zip(ids, MUTANTS, strict=True))
    chosen = list(ids)
    if args.only:
        unknown = sorted(set(args.only) - set(ids))
        if unknown:
            parser.exit(2, f"mutation: unknown mutant ids {unknown}; see --list\n")
        chosen = [i for i in chosen if i in args.only]
    if args.module:
        chosen = [i for i in chosen if table[i].module == args.module]
        if not chosen:
            modules = sorted({m.module for m in MUTANTS})
            parser.exit(2, f"mutation: no mutants in {args.module!r}; modules: {modules}\n")
    if args.list:
        for i in chosen:
            print(f"{i:<16} {table[i].module:<24} {table[i].bug}")
        return 0
    runs, kept = load_results(args.out, table) if args.update else ([], {})
    if args.update:  # the mutants asked for, and every one without a valid earlier result
        asked = set(chosen) if args.only or args.module else set()
        chosen = [i for i in ids if i in asked or i not in kept]
        for i in chosen:
            kept.pop(i, None)
    argv_text = " ".join(argv if argv is not None else sys.argv[1:])
    runs = [
        *runs,
        {
            "command": f"python -m benchmarks.mutation {argv_text}".strip(),
            "date": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
            "machine": machine(),
            "commit": _commit(ROOT),
            "mutants": len(chosen),
        },
    ]

    def record(result: Result) -> None:  # after every mutant: an interrupted run keeps its work
        kept[result.id] = result
        print(f"{result.id:<16} {result.status:<10} {result.seconds:6.1f} s", flush=True)
        write_results([kept[i] for i in ids if i in kept], args.out, runs)

    with tempfile.TemporaryDirectory(prefix="skelgraph-mutation-") as scratch:
        root = Path(scratch) / "repo"
        copy_tree(ROOT, root)
        run_mutants(
            [table[i] for i in chosen], chosen, root, timeout=args.timeout, on_result=record
        )
    results = [kept[i] for i in ids if i in kept]
    write_results(results, args.out, runs)
    overall = kill_rates(results)["overall"]
    print(f"kill rate {100 * overall['kill_rate']:.1f} % over {overall['mutants']} mutants")
    return 0


if __name__ == "__main__":
    sys.exit(main())
