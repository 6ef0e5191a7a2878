"""`slmops finetune` / `optimize`: the Olive guide's flags become params.yaml overrides DVC reads back unchanged."""

from __future__ import annotations

import pytest
import yaml
from click.testing import CliRunner

from slmops.commands import finetune as commands
from slmops.commands.olive import finetune_overrides, hydra_value, optimize_overrides, split_text_template
from slmops.errors import ConfigError

GUIDE_TEMPLATE = r"<|user|>\n{input}<|end|>\n<|assistant|>\n{output}<|end|>"


def apply_with_dvc(tmp_path, overrides: dict) -> dict:
    """Write the overrides with DVC's own `-S` code into a copy of params.yaml and read them back."""
    from dvc.utils.hydra import apply_overrides

    from conftest import ROOT

    params = tmp_path / "params.yaml"
    params.write_text((ROOT / "params.yaml").read_text())
    apply_overrides(str(params), [f"++{k}={hydra_value(v)}" for k, v in overrides.items()])
    return yaml.safe_load(params.read_text())


def test_the_guide_template_splits_at_the_answer_placeholder():
    prompt, completion, answer = split_text_template(GUIDE_TEMPLATE)
    assert answer == "output"
    # Our plain-text rendering appends "\n" to the prompt, so the rendered prompt ends "<|assistant|>\n" again.
    assert prompt == "<|user|>\n{input}<|end|>\n<|assistant|>"
    assert completion == "{output}<|end|>"


def test_without_output_the_last_placeholder_is_the_answer():
    prompt, completion, answer = split_text_template("### Q: {prompt} \\n### Lang: {language} \\n### A: {response}")
    assert (answer, completion) == ("response", "{response}")
    assert prompt == "### Q: {prompt} \n### Lang: {language} \n### A: "
    with pytest.raises(ConfigError, match="nothing before"):
        split_text_template("{output} only")


def test_finetune_flags_land_in_params_yaml_as_dvc_reads_them(tmp_path):
    overrides = finetune_overrides({
        "model_name_or_path": "HuggingFaceTB/SmolLM2-135M-Instruct", "data_files": "data/01_raw/tone.jsonl",
        "text_template": GUIDE_TEMPLATE, "method": "qlora", "max_steps": 100, "train_split": "train[:4096]",
        "eval_split": "train[4096:4224]", "lora_r": 8, "target_modules": "q_proj, v_proj", "label_field": None})
    params = apply_with_dvc(tmp_path, overrides)
    assert params["base_model"]["name_or_path"] == "HuggingFaceTB/SmolLM2-135M-Instruct"
    assert params["data"]["source"] == "data/01_raw/tone.jsonl" and params["data"]["hf_split"] == "train[:4096]"
    assert params["data"]["validation"] == {"hf_split": "train[4096:4224]"}
    assert params["data"]["required_fields"] == ["input", "output"]
    assert params["train"]["method"] == "qlora" and params["train"]["max_steps"] == 100
    assert params["train"]["lora"]["r"] == 8 and params["train"]["lora"]["target_modules"] == ["q_proj", "v_proj"]
    assert params["template"]["prompt"] == "<|user|>\n{input}<|end|>\n<|assistant|>"
    assert params["template"]["completion"] == "{output}<|end|>"
    assert params["template"]["use_chat_template"] is False and params["template"]["system"] is None
    assert params["template"]["label_field"] is None
    assert params["train"]["epochs"] == 2, "flags not given leave params.yaml as it was"


def test_report_to_maps_onto_tensorboard_and_mlflow_and_names_the_rest():
    assert finetune_overrides({"report_to": "tensorboard"}) == {}  # always written
    assert finetune_overrides({"report_to": "tensorboard, mlflow"}) == {"lineage.mlflow.enabled": True}
    with pytest.raises(ConfigError, match="--report_to wandb: not supported"):
        finetune_overrides({"report_to": "wandb"})


def test_optimize_maps_device_provider_and_precision(tmp_path):
    cpu = optimize_overrides({"device": "cpu", "precision": "int4"}, {"cpu-int4": {}})
    assert cpu == {"export.targets": ["cpu-int4"]}  # a configured target keeps its builder options
    cuda = optimize_overrides({"provider": "CUDAExecutionProvider", "precision": "fp16"}, {})
    params = apply_with_dvc(tmp_path, cuda)
    assert params["export"]["targets"] == ["cuda-fp16"]
    assert params["export"]["target_options"]["cuda-fp16"] == {"precision": "fp16", "execution_provider": "cuda"}
    with pytest.raises(ConfigError, match="--precision int3"):
        optimize_overrides({"precision": "int3"}, {})


def test_an_unsupported_flag_is_named(monkeypatch):
    calls = []
    monkeypatch.setattr(commands, "run_experiment", lambda *a, **k: calls.append(a) or 0)
    result = CliRunner().invoke(commands.finetune, ["--method", "lora", "--use_ort_genai", "--data_files", "x.jsonl"])
    assert result.exit_code == 2 and "--use_ort_genai is an Olive option slmops does not support" in result.output
    assert not calls, "nothing ran"


def test_finetune_runs_one_dvc_experiment_with_the_overrides(monkeypatch):
    seen = []
    monkeypatch.setattr(commands, "run_experiment", lambda overrides, name: seen.append((overrides, name)) or 0)
    result = CliRunner().invoke(commands.finetune, ["--max_steps", "16", "--learning_rate", "1e-4", "-n", "olive"])
    assert result.exit_code == 0, result.output
    assert seen == [({"train.max_steps": 16, "train.learning_rate": 1e-4}, "olive")]


def test_optimize_refuses_an_adapter_it_did_not_train(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "params.yaml").write_text("export: {target_options: {}}\n")
    (tmp_path / "elsewhere").mkdir()
    (tmp_path / "elsewhere/adapter_config.json").write_text("{}")
    result = CliRunner().invoke(commands.optimize, ["--adapter_path", "elsewhere", "--precision", "int4"])
    assert result.exit_code == 2 and "--adapter_path elsewhere: not the adapter this pipeline trained" in result.output


def test_the_guide_commands_run_as_dvc_experiments(tmp_path, tmp_path_factory, tiny_model_dir, snips_rows):
    from project import copy_of, reproduced_tiny_project, run

    project = copy_of(reproduced_tiny_project(tmp_path_factory, tiny_model_dir, snips_rows), tmp_path / "p")
    # The committed run's own values: DVC has run them, so this is quick, and still a named experiment.
    run(project, "slmops", "finetune", "--method", "lora", "--seed", "42", "-o", "models/adapter", "-n", "olive-ft",
        "--report_to", "tensorboard", "--logging_dir", "logs")
    adapter = project / "models/adapter/adapter_config.json"
    assert adapter.read_bytes() == (project / "data/06_models/adapter/adapter_config.json").read_bytes()
    assert list((project / "logs").glob("events.out.tfevents.*")), "--logging_dir holds this run's TensorBoard logs"
    run(project, "slmops", "optimize", "--adapter_path", "models/adapter", "--device", "cpu", "--precision", "int4",
        "-o", "models/int4", "-n", "olive-opt")
    assert (project / "models/int4/model.onnx").is_file()
    shown = run(project, "dvc", "exp", "show", "--no-pager", "--csv").stdout
    assert "olive-ft" in shown and "olive-opt" in shown
