"""The export stage's bad inputs: each fails with a message naming the target or file, and leaves nothing behind.

(Unknown targets: test_export.py and the bad-input corpus; a foreign adapter: test_export_adapters.py;
the quality gate: test_export.py.)
"""

from __future__ import annotations

import json
import shutil
import tempfile
from pathlib import Path

import pytest
from helpers.onnx_export import EXPORT, build

from slmops.errors import InputDataError, UnsupportedError


@pytest.fixture
def scratch_tmp(tmp_path, monkeypatch):
    """Staging folders go here, so a test sees what a failed build leaves behind."""
    staging = tmp_path / "tmp"
    staging.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(staging))
    return staging


def test_an_architecture_the_builder_cannot_make_names_the_target_and_architecture(tmp_path, tiny_model_dir,
                                                                                   scratch_tmp):
    model = shutil.copytree(tiny_model_dir, tmp_path / "novel")
    config = json.loads((model / "config.json").read_text())
    (model / "config.json").write_text(json.dumps({**config, "architectures": ["NovelForCausalLM"]}))
    with pytest.raises(UnsupportedError, match=r"the ONNX model builder failed for target 'cpu-int4' "
                                               r"\(int4, cpu, architecture NovelForCausalLM\): .*not currently supported"):
        build(model, "cpu-int4")
    assert list(scratch_tmp.iterdir()) == []  # no half-built target, no builder cache


def test_a_missing_extra_adapter_names_its_folder_before_anything_is_built(tmp_path, tiny_model_dir, scratch_tmp):
    separate = {**EXPORT, "adapters": "separate", "extra_adapters": ["weather"]}
    with pytest.raises(InputDataError, match=r"extra_adapters/weather: extra adapter not found"):
        build(tiny_model_dir, "cpu-fp32", separate, adapter=tiny_model_dir, extra_dir=tmp_path / "extra_adapters")
    assert list(scratch_tmp.iterdir()) == []


def test_a_missing_own_adapter_names_its_file(tmp_path, tiny_model_dir, scratch_tmp):
    with pytest.raises(InputDataError, match=r"adapter/adapter_model.safetensors: adapter weights not found"):
        build(tiny_model_dir, "cpu-int4", {**EXPORT, "adapters": "separate"}, adapter=tmp_path / "adapter")
    assert list(scratch_tmp.iterdir()) == []


def test_unrounded_float_weights_without_an_adapter_say_what_to_do(tmp_path, tiny_model_dir, scratch_tmp):
    from slmops.modeling.bundle import ModelBundle
    from slmops.pipelines.export.nodes import build_onnx_model

    bundle = ModelBundle(path=tiny_model_dir)
    with pytest.raises(UnsupportedError, match=r"export.float_weights: unrounded needs the PEFT adapter in adapter/"):
        build_onnx_model(bundle, bundle, tmp_path / "adapter", tmp_path, {**EXPORT, "float_weights": "unrounded"},
                         {}, {"method": "lora", "quantization_aware": {"block_size": 32}}, "cpu-fp32")
    assert list(scratch_tmp.iterdir()) == []
