"""The bad-input corpus (tests/bad_inputs/<case>/): each case runs the real stages with `dvc repro` and gets its
exact answer: one `error:` line and nothing of the failing stage or later changed, or one `warning:` line with
the pipeline going on, or (for inputs that are odd but fine, "ok") no message at all.

A case folder holds its input files, optional `params.yaml` (dotted keys overriding the project's params;
`data.source` defaults to the case's `input.*`), and `expected.yaml`: `stage` (the `dvc repro` target),
`answer` (error | warning | ok), `message` (the exact line; `{project}` stands for the project folder), optional
`contains` (text an artifact must hold afterwards) and `model` (a broken model folder the runner builds: pickle,
remote_code, no_config, truncated_weights, no_tokenizer, config_against_weights, heads_against_width,
no_chat_template, gpt2; or foreign_adapter, a PEFT adapter of another base in data/06_models/extra_adapters/<case>).
The cases run in WORKERS lanes, each a copy of one project reproduced up to `split` (with the corpus files and the
broken models), one case after another per lane, so most cost one Kedro start, and the lanes keep both of CI's
cores busy; each test waits for its own case's answer and asserts on it.
"""

from __future__ import annotations

import json
import os
import shutil
import traceback
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml
from conftest import ROOT, copy_project
from project import copy_of, edited_params, read_params, run, tiny_params, tiny_rows, write_params

CORPUS = ROOT / "tests/bad_inputs"
# Cases without data first: they run against the project's own data, which every stage is up to date with,
# so each reruns nothing before the stage concerned. Data cases then bring their own input.
CASES = sorted((p.name for p in CORPUS.iterdir() if p.is_dir()), key=lambda name: (
    any((CORPUS / name).glob("input.*")), name))
RAW = "data/01_raw/bad"
WORKERS = 2  # a case mostly waits for its own dvc and kedro processes: two lanes keep two cores busy


def _build_model(kind: str, tiny_model_dir: Path, folder: Path) -> None:
    if kind == "foreign_adapter":  # where export.extra_adapters looks: data/06_models/extra_adapters/<case>
        _foreign_adapter(folder.parents[2] / "data/06_models/extra_adapters" / folder.name)
        return
    shutil.copytree(tiny_model_dir, folder)
    if kind == "pickle":
        import torch
        from safetensors.torch import load_file

        weights = folder / "model.safetensors"
        torch.save(load_file(weights), folder / "pytorch_model.bin")
        weights.unlink()
    elif kind == "remote_code":
        config = json.loads((folder / "config.json").read_text())
        config["auto_map"] = {"AutoConfig": "modeling_custom.CustomConfig",
                              "AutoModelForCausalLM": "modeling_custom.CustomForCausalLM"}
        (folder / "config.json").write_text(json.dumps(config))
        (folder / "modeling_custom.py").write_text("raise SystemExit('remote code ran')\n")
    elif kind == "no_config":
        (folder / "config.json").unlink()
    elif kind == "truncated_weights":  # a download cut off half-way
        weights = folder / "model.safetensors"
        os.truncate(weights, weights.stat().st_size // 2)
    elif kind == "no_tokenizer":
        for name in ("tokenizer.json", "tokenizer_config.json", "chat_template.jinja"):
            (folder / name).unlink()
    elif kind in ("config_against_weights", "heads_against_width"):
        config = json.loads((folder / "config.json").read_text())
        config.update({"hidden_size": 96} if kind == "config_against_weights" else {"num_attention_heads": 5})
        (folder / "config.json").write_text(json.dumps(config))
    elif kind == "no_chat_template":
        (folder / "chat_template.jinja").unlink()
        tokenizer_config = json.loads((folder / "tokenizer_config.json").read_text())
        tokenizer_config.pop("chat_template", None)
        (folder / "tokenizer_config.json").write_text(json.dumps(tokenizer_config))
    elif kind == "gpt2":  # a whole tiny GPT-2 with the same tokenizer: an architecture the ONNX builder lacks
        from transformers import GPT2Config, GPT2LMHeadModel

        for weights in folder.glob("*.safetensors"):
            weights.unlink()
        config = json.loads((folder / "config.json").read_text())
        GPT2LMHeadModel(GPT2Config(vocab_size=config["vocab_size"], n_embd=64, n_layer=2, n_head=4,
                                   n_positions=512)).save_pretrained(folder)


def _foreign_adapter(folder: Path) -> None:
    """A PEFT LoRA adapter trained on another base: a Llama half as wide as the tiny model (32, not 64)."""
    import torch
    from peft import LoraConfig, get_peft_model
    from transformers import LlamaConfig, LlamaForCausalLM

    torch.manual_seed(0)
    base = LlamaForCausalLM(LlamaConfig(vocab_size=128, hidden_size=32, intermediate_size=64, num_hidden_layers=2,
                                        num_attention_heads=4, num_key_value_heads=2))
    get_peft_model(base, LoraConfig(r=4, lora_alpha=8, target_modules="all-linear")).save_pretrained(folder)


def _prepared(root: Path, tiny_model_dir: Path, snips_rows: list[dict]) -> Path:
    """A project on 28 SNIPS rows with the corpus inputs under data/01_raw/bad and the broken model folders,
    reproduced up to split (train and later never ran, so any params change reaches them)."""
    copy_project(root)
    shutil.copytree(CORPUS, root / RAW, ignore=shutil.ignore_patterns("expected.yaml", "params.yaml"))
    (root / "data/01_raw/tiny.jsonl").write_text("".join(json.dumps(r) + "\n" for r in tiny_rows(snips_rows, 4)))
    write_params(root, tiny_params(read_params(root), tiny_model_dir, "data/01_raw/tiny.jsonl"))
    for case in CASES:
        kind = _expected(case).get("model")
        if kind:
            _build_model(kind, tiny_model_dir, root / "models/bad" / case)
    run(root, "git", "init", "-q")
    run(root, "dvc", "init", "-q")
    run(root, "dvc", "config", "core.analytics", "false")
    run(root, "dvc", "repro", "split")
    return root


@dataclass
class Answer:
    returncode: int
    output: str
    changed: list[str]  # files of the stage concerned or later whose bytes changed
    deleted: list[str]  # those of them missing afterwards
    contains: str | None = None  # the file named by expected `contains`, read afterwards
    project: Path | None = None  # the lane's project folder ({project} in expected messages)
    recorded: bool = False  # dvc.lock held the stage's outputs before the run (so DVC deletes them if it runs it)


def _answer(project: Path, case: str) -> Answer:
    expected = _expected(case)
    stage = expected["stage"]
    before = _outputs_from(project, stage)
    locked = (yaml.safe_load((project / "dvc.lock").read_text(encoding="utf-8")) or {}).get("stages") or {}
    recorded = any(name == stage or name.startswith(f"{stage}@") for name in locked)
    with edited_params(project, _changes(case)):
        result = run(project, "dvc", "repro", stage, check=False)
    after = _outputs_from(project, stage)
    changed = sorted(path for path in before.keys() | after.keys() if before.get(path) != after.get(path))
    contains = expected.get("contains")
    text = (project / contains["file"]).read_text(encoding="utf-8") if contains else None
    deleted = [path for path in changed if after.get(path) == b"<missing>"]
    return Answer(result.returncode, result.stdout + result.stderr, changed, deleted, text, project, recorded)


def _run_lane(project: Path, cases: list[str], answers: dict[str, Future]) -> None:
    for case in cases:
        if not answers[case].set_running_or_notify_cancel():  # the session is ending early
            return
        try:
            answers[case].set_result(_answer(project, case))
        except Exception:  # this case's test reports it; the lane goes on
            answers[case].set_exception(RuntimeError(f"{case}: {traceback.format_exc()}"))


@pytest.fixture(scope="module")
def answers(request, tmp_path_factory, tiny_model_dir, snips_rows):
    """Each selected case's Answer as a Future, filled by the lanes in CASES order while the tests wait."""
    selected = [item.callspec.params["case"] for item in request.session.items
                if item.module is request.module and "case" in getattr(getattr(item, "callspec", None), "params", {})]
    cases = [case for case in CASES if case in selected]
    root = _prepared(tmp_path_factory.mktemp("corpus"), tiny_model_dir, snips_rows)
    lanes = [root] + [copy_of(root, tmp_path_factory.mktemp("corpus-lane") / "p")
                      for _ in range(min(WORKERS, len(cases)) - 1)]
    futures = {case: Future() for case in cases}
    pool = ThreadPoolExecutor(len(lanes))
    for index, lane in enumerate(lanes):
        pool.submit(_run_lane, lane, cases[index::len(lanes)], futures)
    yield futures, root
    for future in futures.values():
        future.cancel()
    pool.shutdown(wait=True)


def _expected(case: str) -> dict:
    return yaml.safe_load((CORPUS / case / "expected.yaml").read_text(encoding="utf-8"))


def _changes(case: str) -> dict:
    inputs = sorted(p.name for p in (CORPUS / case).glob("input.*"))
    changes = {"data.source": f"{RAW}/{case}/{inputs[0]}"} if inputs else {}
    overrides = CORPUS / case / "params.yaml"
    if overrides.is_file():
        changes.update(yaml.safe_load(overrides.read_text(encoding="utf-8")))
    return changes


def _outputs_from(project: Path, stage: str) -> dict[str, bytes]:
    """Every file the stage and the stages listed after it in dvc.yaml write, as bytes (absent: missing)."""
    stages = list(yaml.safe_load((project / "dvc.yaml").read_text())["stages"].items())
    names = [name for name, _ in stages]
    files: dict[str, bytes] = {}
    for _name, spec in stages[names.index(stage):]:
        for kind in ("outs", "metrics", "plots"):
            for entry in spec.get(kind, []):
                path = next(iter(entry)) if isinstance(entry, dict) else entry
                path = path.replace("${item.target}", "cpu-int4")
                target = project / path
                found = [p for p in target.rglob("*") if p.is_file()] if target.is_dir() else [target]
                files.update({str(p.relative_to(project)): p.read_bytes() if p.is_file() else b"<missing>"
                              for p in found})
    return files


@pytest.mark.parametrize("case", CASES)
def test_bad_input_gets_its_answer(answers, case):
    futures, _ = answers
    expected = _expected(case)
    answer = futures[case].result(timeout=900)
    output = answer.output
    messages = [line for line in output.splitlines() if line.startswith(("error: ", "warning: "))]
    assert "Traceback" not in output, output[-3000:]
    if expected["answer"] == "error":
        assert answer.returncode != 0
        assert messages == [expected["message"].replace("{project}", str(answer.project))], output[-3000:]
        # DVC deletes a stage's outputs before running it; the `kedro run` wrapper (slmops.commands.run) puts
        # them back from DVC's cache when the stage fails, so nothing is lost (README: bad input).
        if answer.recorded and f"Running stage '{expected['stage']}'" in output:
            assert f"note: restored {expected['stage']}'s previous outputs" in output, output[-3000:]
        assert not answer.deleted, f"the failing stage's outputs were deleted and not restored: {answer.deleted}"
        assert not answer.changed, f"the failing stage or a later one changed {answer.changed}"
    else:
        assert answer.returncode == 0, output[-3000:]
        assert messages == ([expected["message"]] if expected["answer"] == "warning" else []), output[-3000:]
    for check in ([expected["contains"]] if "contains" in expected else []):
        assert check["text"] in answer.contains, check


def test_the_corpus_covers_enough_cases():
    answers = [_expected(case)["answer"] for case in CASES]
    assert len(CASES) >= 40 and {"error", "warning", "ok"} <= set(answers)
    assert all(_expected(c)["message"] for c in CASES if _expected(c)["answer"] != "ok")
