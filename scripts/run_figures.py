"""Render the committed run's figures into README.md and docs/cost-and-quality.md, between their markers.

Usage: python scripts/run_figures.py [--check]
Reads reports/resources/stages/*.json, reports/metrics/{train,eval}.json and reports/metrics/export/*.json
(what the default `make run` wrote and committed, with the date and the machine). A test runs --check, so
no figure in either block is typed by hand; run it without --check after a `make run` to refresh them.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from slmops.pipelines.report.resources import ordered_stages

ROOT = Path(__file__).resolve().parents[1]
PAGE = ROOT / "docs" / "cost-and-quality.md"
README = ROOT / "README.md"
LOCAL_TARGETS = ("cpu-int4", "cpu-int8", "cpu-fp32")  # run on this machine; the others are built and checked
BEGIN, END = "<!-- run-figures:begin -->", "<!-- run-figures:end -->"


def _read(path: Path) -> dict:
    return json.loads(path.read_text(encoding="utf-8"))


def _machine(machine: dict) -> str:
    simd = ", ".join(machine.get("simd") or []) or "none listed"
    return (f"{machine.get('cpu')}, {machine.get('usable_cpus')} of {machine.get('logical_cpus')} logical CPUs, "
            f"{machine.get('memory_gib')} GiB, SIMD: {simd}, GPU: {machine.get('gpu') or 'none'}")


def render(root: Path = ROOT) -> str:
    stages = dict(ordered_stages({p.stem: _read(p) for p in (root / "reports/resources/stages").glob("*.json")}))
    train, evaluation = _read(root / "reports/metrics/train.json"), _read(root / "reports/metrics/eval.json")
    names = list(stages)  # pipeline order, as the report shows them
    machines = {_machine(stages[n]["machine"]) for n in names}
    finished = max(stages[n]["finished_at"] for n in names)
    lines = [f"Run finished {finished} (UTC) on: " + "; ".join(sorted(machines)) + ".", "",
             "| stage | wall (s) | start-up (s) | nodes (s) | peak RSS (MB) | a child's larger peak (MB) |",
             "|---|---:|---:|---:|---:|---:|"]
    for name in names:
        s = stages[name]
        child = s.get("children_peak_rss_mb")  # a forked child starts with the stage's memory: news only when larger
        lines.append(f"| `{name}` | {s['wall_seconds']} | {s['startup_seconds']} | {s['nodes_seconds']} | "
                     f"{s['peak_rss_mb']} | {child if child and child > s['peak_rss_mb'] else '–'} |")
    total = sum(stages[n]["wall_seconds"] for n in names)
    startup = sum(stages[n]["startup_seconds"] or 0 for n in names)
    lines += ["", f"Sum over these {len(names)} stages: {total:.1f} s, of which {startup:.1f} s stage start-up "
              "(process start to first node).", "",
              f"Training: {train['tokens_per_second']} tokens/s ({train['precision']}, attention "
              f"`{train['attention']}`), an estimated {train['model_gflops_per_second']} GFLOP/s of model arithmetic = "
              f"{100 * train['matmul_utilisation']:.0f}% of this machine's measured {train['matmul_peak_gflops']} "
              f"GFLOP/s dense matmul; peak RSS {train['peak_rss_mb']} MB; the resource monitor took "
              f"{train['monitoring_seconds']} s = {100 * train['monitoring_share']:.3f}% of training time.", ""]
    if "base_on_grid" in evaluation:
        grid = evaluation["grid"]
        intervals = evaluation["intervals"]
        lines += [f"Quality on {evaluation['rows']} validation rows (int{grid['bits']} grid, block {grid['block_size']}, "
                  f"target `{grid['target']}`):", "",
                  "| metric | base | base on the grid | fine-tuned | Δ fine-tuning | Δ grid |", "|---|---:|---:|---:|---:|---:|"]
        for key in ("f1", "accuracy", "perplexity"):
            if key not in evaluation["tuned"]:
                continue
            cells = [f"{evaluation[m][key]}" for m in ("base", "base_on_grid", "tuned")]
            cells += [f"{evaluation[d][key]:+.4f} [{intervals[d][key][0]:+.3f}, {intervals[d][key][1]:+.3f}]"
                      for d in ("delta_tuning", "delta_grid")]
            lines.append(f"| {key} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def _link(path: str, prefix: str = "") -> str:
    return f"[{Path(path).name}]({prefix}{path})"


def render_readme(root: Path = ROOT) -> str:
    """The README's table of the committed run: each figure with a link to the file it comes from."""
    stages = {p.stem: _read(p) for p in (root / "reports/resources/stages").glob("*.json")}
    evaluation, train = _read(root / "reports/metrics/eval.json"), _read(root / "reports/metrics/train.json")
    finished = max(s["finished_at"] for s in stages.values())
    machines = "; ".join(sorted({_machine(s["machine"]) for s in stages.values()}))
    wall = sum(s["wall_seconds"] for s in stages.values())
    base, tuned = evaluation["base"], evaluation["tuned"]
    low, high = evaluation["intervals"]["tuned"]["f1"]
    eval_link, train_link = _link("reports/metrics/eval.json"), _link("reports/metrics/train.json")
    rows = [
        (f"macro-F1 on {evaluation['rows']} validation rows: base → fine-tuned (PyTorch), 95% interval",
         f"{base['f1']} → **{tuned['f1']}** [{low}, {high}]", eval_link),
    ]
    if "base_on_grid" in evaluation:
        rows.append(("macro-F1: the base on the int4 grid; what fine-tuning gained on it; what the grid cost the base",
                     f"{evaluation['base_on_grid']['f1']}; {evaluation['delta_tuning']['f1']:+.4f}; "
                     f"{evaluation['delta_grid']['f1']:+.4f}", eval_link))
    rows.append(("training: steps, seconds, tokens/s, precision, peak RSS",
                 f"{train['steps']}, {train['train_seconds']} s, {train['tokens_per_second']} tok/s, "
                 f"{train['precision']}, {train.get('peak_rss_mb')} MB", train_link))
    rows.append(("every stage of the run: wall seconds summed (start-up included)", f"{wall:.0f} s",
                 _link("reports/resources/stages/")))
    unrun = []
    for target in sorted(p.stem for p in (root / "reports/metrics/export").glob("*.json")
                         if not p.name.endswith(".lineage.json")):
        metrics, link = _read(root / f"reports/metrics/export/{target}.json"), _link(f"reports/metrics/export/{target}.json")
        if target not in LOCAL_TARGETS:
            unrun.append((f"`{target}` {metrics['size_mb']} MB", link))
            continue
        decode = metrics["decode"]
        rows.append((f"`{target}`: macro-F1 (Δ vs PyTorch), greedy agreement, size on disk",
                     f"{metrics['onnx']['f1']} (Δ {metrics['delta']['f1']}), {metrics['greedy_agreement']} over "
                     f"{metrics['greedy_agreement_rows']} rows, {metrics['size_mb']} MB", link))
        rows.append((f"`{target}`: decode tokens/s vs transformers fp32 (speedup), first token",
                     f"{decode['onnx_tokens_per_second']} vs {decode['pytorch_tokens_per_second']} "
                     f"({decode['speedup']}×), {decode['onnx_first_token_ms']} ms", link))
    if unrun:
        rows.append(("built and checked, not run here (no such provider): size", ", ".join(t for t, _ in unrun),
                     ", ".join(link for _, link in unrun)))
    lines = [f"From the default `make run` that wrote the committed results, finished {finished} (UTC) on: {machines}. "
             "Each figure links to the file it comes from; `dvc metrics show` prints them all.", "",
             "| figure | value | from |", "|---|---|---|"]
    lines += [f"| {figure} | {value} | {link} |" for figure, value, link in rows]
    return "\n".join(lines)


def with_block(text: str, block: str) -> str:
    head, rest = text.split(BEGIN, 1)
    return f"{head}{BEGIN}\n{block}\n{END}{rest.split(END, 1)[1]}"


def pages(root: Path = ROOT) -> dict[Path, str]:
    """Each file with its block as the results files say it should be."""
    return {PAGE: with_block(PAGE.read_text(encoding="utf-8"), render(root)),
            README: with_block(README.read_text(encoding="utf-8"), render_readme(root))}


if __name__ == "__main__":
    stale = [path for path, text in pages().items() if path.read_text(encoding="utf-8") != text]
    if "--check" in sys.argv:
        sys.exit(f"not current: {', '.join(str(p.relative_to(ROOT)) for p in stale)} (run scripts/run_figures.py)"
                 if stale else 0)
    for path, text in pages().items():
        path.write_text(text, encoding="utf-8")
