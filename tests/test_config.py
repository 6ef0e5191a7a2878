"""params.yaml validation: the real file passes, and every mistake names the dotted key at fault."""

from __future__ import annotations

import copy
from pathlib import Path

import pytest
import yaml

from slmops.config import Params, validate_params
from slmops.errors import ConfigError

pytestmark = pytest.mark.fast  # in `make test-fast`

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def real_params() -> dict:
    return yaml.safe_load((ROOT / "params.yaml").read_text(encoding="utf-8"))


@pytest.fixture
def params(real_params) -> dict:
    return copy.deepcopy(real_params)


def _error(params: dict) -> str:
    with pytest.raises(ConfigError) as caught:
        validate_params(params)
    return str(caught.value)


def test_the_real_params_file_validates(real_params):
    validated = validate_params(real_params)
    assert isinstance(validated, Params)
    # Values come from the file, not from the model's defaults.
    assert validated.data.source == real_params["data"]["source"]
    assert validated.split.validation_fraction == real_params["split"]["validation_fraction"]
    assert validated.train.lora.r == real_params["train"]["lora"]["r"]
    assert validated.export.targets == real_params["export"]["targets"]
    for target in validated.export.targets:
        assert target in validated.export.target_options


def test_unknown_top_level_key_suggests_the_close_match(params):
    params["trian"] = {"epochs": 2}
    message = _error(params)
    assert message.startswith("params.yaml: ")
    assert "trian: unknown key" in message
    assert "did you mean 'train'?" in message


@pytest.mark.parametrize(
    ("section", "key", "dotted", "suggestion"),
    [
        (("train",), "learning_rat", "train.learning_rat", "learning_rate"),
        (("train", "lora"), "alpah", "train.lora.alpah", "alpha"),
        (("split",), "validation_fracton", "split.validation_fracton", "validation_fraction"),
        (("data",), "hf_splt", "data.hf_splt", "hf_split"),
    ],
)
def test_unknown_nested_key_names_the_dotted_path_and_suggests(params, section, key, dotted, suggestion):
    node = params
    for part in section:
        node = node[part]
    node[key] = node.get(suggestion, 1)
    message = _error(params)
    assert f"{dotted}: unknown key" in message
    assert f"did you mean '{suggestion}'?" in message


def test_unknown_key_without_a_close_match_lists_the_known_keys(params):
    params["split"]["zzzz"] = 1
    message = _error(params)
    assert "split.zzzz: unknown key; known keys: " in message
    for known in ("seed", "stratify", "test_fraction", "validation_fraction"):
        assert known in message


def test_unknown_key_inside_a_target_options_entry_suggests_the_close_match(params):
    params["export"]["target_options"]["cpu-int4"]["precison"] = "int4"
    message = _error(params)
    assert "export.target_options.cpu-int4.precison: unknown key" in message
    assert "did you mean 'precision'?" in message


@pytest.mark.parametrize(
    ("path", "value", "dotted"),
    [
        (("train", "batch_size"), "eight", "train.batch_size"),
        (("train", "lora", "r"), "sixteen", "train.lora.r"),
        (("template", "use_chat_template"), "sometimes", "template.use_chat_template"),
        (("data", "required_fields"), 3, "data.required_fields"),
        (("split", "seed"), 1.5, "split.seed"),
        (("data", "format"), "xlsx", "data.format"),
        (("train", "method"), "magic", "train.method"),
    ],
)
def test_wrong_types_and_values_name_the_key(params, path, value, dotted):
    node = params
    for part in path[:-1]:
        node = node[part]
    node[path[-1]] = value
    message = _error(params)
    assert message.startswith(f"params.yaml: {dotted}: ")
    assert "unknown key" not in message


@pytest.mark.parametrize(("path", "value"), [(("train", "batch_size"), 0), (("split", "validation_fraction"), 1.0),
                                             (("train", "lora", "dropout"), -0.1), (("evaluate", "max_rows"), 0)])
def test_out_of_range_values_are_rejected(params, path, value):
    node = params
    for part in path[:-1]:
        node = node[part]
    node[path[-1]] = value
    assert ".".join(path) in _error(params)


@pytest.mark.parametrize(("validation", "test"), [(0.5, 0.5), (0.6, 0.5), (0.9, 0.2)])
def test_split_fractions_that_leave_nothing_to_train_on_are_rejected(params, validation, test):
    params["split"]["validation_fraction"] = validation
    params["split"]["test_fraction"] = test
    message = _error(params)
    assert "split" in message
    assert "validation_fraction + test_fraction must be below 1" in message


def test_split_fractions_just_below_one_are_accepted(params):
    params["split"].update(validation_fraction=0.5, test_fraction=0.49)
    split = validate_params(params).split  # raises if the sum rule were "at most 0.99" or off by a rounding
    assert (split.validation_fraction, split.test_fraction) == (0.5, 0.49)


def test_export_target_without_options_is_rejected(params):
    params["export"]["targets"] = ["cpu-int4", "cuda-fp61"]
    message = _error(params)
    assert "export" in message
    assert "targets ['cuda-fp61'] have no entry under export.target_options" in message
    assert "did you mean 'cuda-fp16' for 'cuda-fp61'?" in message


def test_export_needs_at_least_one_target(params):
    params["export"]["targets"] = []
    assert "export.targets" in _error(params)


def test_missing_required_section_is_named(params):
    del params["template"]
    message = _error(params)
    assert "template" in message
    assert "Field required" in message


def test_several_errors_are_reported_together(params):
    params["train"]["epochs"] = "many"
    params["evaluate"]["batch_szie"] = 4
    message = _error(params)
    assert "train.epochs" in message
    assert "evaluate.batch_szie: unknown key (did you mean 'batch_size'?)" in message


def test_the_runtime_target_key_is_accepted_and_changes_nothing(params):
    without = validate_params(params)
    params["target"] = "cpu-int4"  # what `kedro run --params target=cpu-int4` adds to the tree
    assert validate_params(params) == without


def test_a_non_runtime_extra_key_is_still_rejected(params):
    params["targets"] = "cpu-int4"  # near RUNTIME_KEYS but not one of them
    assert "targets: unknown key" in _error(params)


def test_sections_are_frozen(real_params):
    from pydantic import ValidationError

    validated = validate_params(real_params)
    with pytest.raises(ValidationError):
        validated.train.epochs = 3


def test_quantization_aware_training_needs_the_int4_targets_block_size(params):
    params["train"]["quantization_aware"] = {"bits": 4, "block_size": 32}
    for options in params["export"]["target_options"].values():
        if options.get("precision") == "int4":
            options["block_size"] = 32
    params["export"]["target_options"]["cpu-int4"]["block_size"] = 64
    with pytest.raises(ConfigError, match="cpu-int4.block_size is 64 but "
                                          "train.quantization_aware.block_size is 32") as error:
        validate_params(params)
    assert ": :" not in str(error.value)  # a whole-file rule has no key path to print


def test_quantization_aware_training_rejects_lora_dropout(params):
    params["train"]["quantization_aware"] = {"bits": 4, "block_size": params["export"]["target_options"]["cpu-int4"]["block_size"]}
    params["train"]["lora"]["dropout"] = 0.1
    with pytest.raises(ConfigError, match="set train.lora.dropout to 0"):
        validate_params(params)
