"""export.runtime.threads: validated at start-up, overlaid on the session when a folder is loaded (the folder's
genai_config.json untouched), and recorded with the metrics it was measured with."""

from __future__ import annotations

import copy
import json
import os
from pathlib import Path

import psutil
import pytest
import yaml
from helpers.onnx_export import EVAL_METRICS, EXPORT, PROMPTS, build, rows_with_pytorch_predictions, saved

from slmops.config import validate_params
from slmops.errors import ConfigError
from slmops.modeling.bundle import ModelBundle
from slmops.modeling.genai import GenaiModel, intra_op_threads, load_model, session_overlay
from slmops.pipelines.evaluate_onnx.nodes import measure_onnx_model

ROOT = Path(__file__).resolve().parents[1]
CPUS = len(os.sched_getaffinity(0))


@pytest.fixture(scope="module")
def onnx_folder(tmp_path_factory, tiny_model_dir):
    return saved(tmp_path_factory, build(tiny_model_dir, "cpu-fp32"), "cpu-fp32")


@pytest.mark.parametrize(("threads", "message"), [
    (0, "export.runtime.threads: 0 threads: give at least 1"),
    (-2, "export.runtime.threads: -2 threads: give at least 1"),
    ("many", "export.runtime.threads: expected auto, default or a whole number of threads >= 1, got 'many'"),
    (1.5, "got 1.5"), (True, "got True")])
def test_a_thread_count_that_cannot_run_stops_at_start_up(threads, message):
    params = copy.deepcopy(yaml.safe_load((ROOT / "params.yaml").read_text(encoding="utf-8")))
    params["export"]["runtime"] = {"threads": threads}
    with pytest.raises(ConfigError, match="^params.yaml: ") as caught:
        validate_params(params)
    assert message in str(caught.value)


@pytest.mark.parametrize(("threads", "expected"), [("auto", "auto"), ("default", "default"), (3, 3), ("3", 3)])
def test_thread_settings_that_run(threads, expected):
    params = copy.deepcopy(yaml.safe_load((ROOT / "params.yaml").read_text(encoding="utf-8")))
    params["export"]["runtime"] = {"threads": threads}
    assert validate_params(params).export.runtime.threads == expected


def test_what_each_setting_stands_for_here():
    assert intra_op_threads("auto") == CPUS and intra_op_threads(3) == 3 and intra_op_threads("default") is None
    assert session_overlay("default") is None  # nothing overlaid: onnxruntime-genai's own choices
    assert json.loads(session_overlay(2, spinning=False)) == {"model": {"decoder": {"session_options": {
        "intra_op_num_threads": 2, "session.intra_op.allow_spinning": "0"}}}}


def test_the_setting_reaches_the_session_and_leaves_the_folder_alone(onnx_folder):
    # onnxruntime's intra-op pool runs on the calling thread plus N-1 threads of its own: count them.
    config_bytes = (onnx_folder / "genai_config.json").read_bytes()
    process = psutil.Process()
    one = load_model(onnx_folder, 1)  # first: the environment's own threads start with the first model
    with_one = process.num_threads()
    four = load_model(onnx_folder, 4)
    assert process.num_threads() - with_one == 3
    auto = load_model(onnx_folder, "auto")
    assert process.num_threads() - with_one == 3 + CPUS - 1
    assert (onnx_folder / "genai_config.json").read_bytes() == config_bytes
    del one, four, auto


def test_thread_counts_give_the_same_greedy_output(onnx_folder, tiny_model_dir):
    tokenizer = ModelBundle(path=tiny_model_dir).tokenizer
    outputs = {t: GenaiModel(onnx_folder, tokenizer, threads=t).generate(PROMPTS, max_new_tokens=6)
               for t in ("default", 1, 3)}
    without_spinning = GenaiModel(onnx_folder, tokenizer, threads=3, spinning=False).generate(PROMPTS, max_new_tokens=6)
    assert outputs["default"] == outputs[1] == outputs[3] == without_spinning


@pytest.mark.parametrize(("runtime", "count", "said"), [
    ({"threads": 2, "spinning": False}, 2, "threads `2` (2 intra-op threads, idle threads sleep)"),
    ({"threads": "default"}, None, "threads `default` (onnxruntime-genai's default count)")])
def test_the_metrics_and_card_say_which_threads_were_used(onnx_folder, tiny_model_dir, runtime, count, said):
    bundle = ModelBundle(path=tiny_model_dir)
    rows, predictions = rows_with_pytorch_predictions(bundle)
    metrics, card = measure_onnx_model(onnx_folder, bundle, rows, predictions, {"max_new_tokens": 4},
                                       {**EXPORT, "runtime": runtime}, EVAL_METRICS, "cpu-fp32")
    assert metrics["runtime"] == {"threads": runtime["threads"], "intra_op_num_threads": count,
                                  "spinning": runtime.get("spinning", True)}
    assert f"Measured with {said}" in card and "--threads auto" in card and "intra_op_num_threads" in card


def test_spinning_is_true_or_false():
    params = copy.deepcopy(yaml.safe_load((ROOT / "params.yaml").read_text(encoding="utf-8")))
    params["export"]["runtime"] = {"threads": 2, "spinning": "sometimes"}
    with pytest.raises(ConfigError, match="export.runtime.spinning: Input should be a valid boolean"):
        validate_params(params)
