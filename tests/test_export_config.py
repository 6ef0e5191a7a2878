"""export.target_options are typed: builder aliases, unknown options and unsupported combinations stop at start-up."""

from __future__ import annotations

import copy
from pathlib import Path

import pytest
import yaml

from slmops.config import validate_params
from slmops.config.export import PRECISIONS, TargetParams
from slmops.errors import ConfigError
from slmops.modeling.onnx_targets import builder_extra_options

pytestmark = pytest.mark.fast  # in `make test-fast`

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture
def params() -> dict:
    return copy.deepcopy(yaml.safe_load((ROOT / "params.yaml").read_text(encoding="utf-8")))


def _error(params: dict) -> str:
    with pytest.raises(ConfigError) as caught:
        validate_params(params)
    return str(caught.value)


def test_the_shipped_params_list_every_target_the_builder_makes(params):
    validated = validate_params(params).export
    assert set(validated.targets) == {"cpu-fp32", "cpu-int4", "cpu-int8", "cuda-fp16", "cuda-int4", "dml-int4",
                                      "webgpu-int4"}
    for name in validated.targets:  # the name says what the options are
        options = validated.target_options[name]
        assert name == f"{options.execution_provider}-{options.precision}"


@pytest.mark.parametrize(("alias", "replacement"), [("int4_block_size", "use block_size"),
                                                    ("int4_accuracy_level", "use accuracy_level"),
                                                    ("disable_qkv_fusion", "use builder_options.fuse_qkv")])
def test_deprecated_builder_aliases_are_rejected_naming_the_replacement(params, alias, replacement):
    params["export"]["target_options"]["cpu-int4"]["builder_options"] = {alias: 64}
    message = _error(params)
    assert "export.target_options.cpu-int4.builder_options" in message and "deprecated builder alias" in message
    assert replacement in message


def test_an_unknown_builder_option_suggests_the_close_match(params):
    params["export"]["target_options"]["cpu-int4"]["builder_options"] = {"is_symetric": True}
    assert "builder_options.is_symetric: unknown builder option (did you mean 'is_symmetric'?)" in _error(params)


def test_a_typed_option_is_not_accepted_as_a_builder_option(params):
    params["export"]["target_options"]["cpu-int4"]["builder_options"] = {"block_size": 64}
    assert "builder_options.block_size: set it as the target's `block_size` instead" in _error(params)


def test_an_unknown_target_option_suggests_the_close_match(params):
    params["export"]["target_options"]["cpu-int4"]["blocksize"] = 64
    assert "cpu-int4.blocksize: unknown key (did you mean 'block_size'?)" in _error(params)


@pytest.mark.parametrize(("provider", "precision"), [("dml", "fp32"), ("cpu", "fp16"), ("webgpu", "int8")])
def test_combinations_outside_the_support_matrix_fail(params, provider, precision):
    assert precision not in PRECISIONS[provider]
    params["export"]["target_options"]["cpu-int4"].update(execution_provider=provider, precision=precision,
                                                             block_size=32)
    message = _error(params)
    assert f"precision {precision} on {provider} is not in the support matrix" in message


def test_quantization_options_on_a_float_target_are_rejected(params):
    params["export"]["target_options"]["cpu-fp32"]["block_size"] = 32
    assert "block_size only apply to int4/int8, not fp32" in _error(params)


def test_separate_adapters_on_directml_fail_before_anything_is_built(params):
    params["export"]["adapters"] = "separate"
    params["export"]["targets"] = ["dml-int4"]
    assert "adapters: separate with target dml-int4: not supported by onnxruntime-genai on DirectML" in _error(params)


def test_separate_adapters_on_int4_need_the_base_trained_quantization_aware(params):
    params["export"]["adapters"] = "separate"
    params["export"]["targets"] = ["cpu-int4", "cpu-fp32"]
    assert "needs the adapter trained against the frozen int4 base: set train.quantization_aware.target: base" \
        in _error(params)
    params["export"]["targets"] = ["cpu-fp32"]  # float targets only: no int4 rounding to train against
    params["train"]["quantization_aware"] = None
    assert validate_params(params).export.adapters == "separate"


def test_extra_adapters_need_separate_adapters(params):
    params["export"]["extra_adapters"] = ["weather"]
    assert "extra_adapters need adapters: separate" in _error(params)


def test_builder_options_come_from_the_typed_fields():
    options = TargetParams(precision="int4", execution_provider="cpu", block_size=64, accuracy_level=4,
                           keep_float=["lm_head"], builder_options={"fuse_qkv": False})
    extra = builder_extra_options(options, float_nodes=["/model/layers.0/attn/q_proj/lora_A/MatMul"])
    assert extra == ["fuse_qkv=false", "block_size=64", "accuracy_level=4",
                     "nodes_to_exclude=/lm_head/MatMul,/model/layers.0/attn/q_proj/lora_A/MatMul"]
    assert builder_extra_options(TargetParams(precision="fp32", execution_provider="cpu")) == []


def test_a_fused_mlp_cannot_carry_separate_adapters(params):
    params["export"].update(adapters="separate", targets=["cpu-fp32"])
    params["train"]["quantization_aware"] = None
    params["export"]["target_options"]["cpu-fp32"]["builder_options"] = {"fuse_mlp_gate_up": True}
    assert ("adapters: separate with target cpu-fp32: the builder cannot fuse the MLP's gate/up projections"
            in _error(params))
