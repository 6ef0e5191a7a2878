"""LoRA adapters kept separate from an ONNX base: LoRA graph inputs, `.onnx_adapter` files, and their checks.

The builder (`adapter_path=`) adds a LoRA branch beside each adapted MatMul, with the weights as
initializers named like `model.layers.0.attn.q_proj.lora_A.MatMul.weight` ([in, r]) and
`...lora_B.MatMul.weight` ([r, out], scaling folded in). Turning them into graph inputs with a
symbolic rank makes one base serve any adapter on it; onnxruntime's AdapterFormat carries the values.
"""

from __future__ import annotations

import json
import math
import re
from pathlib import Path
from typing import Any

from slmops.errors import InputDataError, UnsupportedError

RANK = "lora_rank"
LORA_WEIGHT = re.compile(r"\.lora_[AB]\.MatMul\.weight$")
PEFT_KEY = re.compile(r"^base_model\.model\.(?P<module>.+)\.lora_(?P<ab>[AB])\.weight$")
# Fused projections (Phi-3) the builder splits when they carry LoRA: lora_A is shared, lora_B's rows split.
FUSED = {"qkv_proj": ("q_proj", "k_proj", "v_proj"), "gate_up_proj": ("gate_proj", "up_proj")}


def _split_names(name: str) -> list[str]:
    """The builder's names for ``name``: itself, or one per projection when the module is fused."""
    module, rest = name.split(".lora_", 1)
    parent, leaf = module.rsplit(".", 1)
    return [f"{parent}.{part}.lora_{rest}" for part in FUSED[leaf]] if leaf in FUSED else [name]


def onnx_name(peft_key: str) -> str | None:
    """The builder's name for a PEFT LoRA tensor, or None for keys that are not LoRA A/B weights."""
    match = PEFT_KEY.match(peft_key)
    if not match:
        return None
    # Phi-2 names its attention output projection `dense`; the builder calls every one o_proj.
    module = match["module"].replace(".self_attn.dense", ".self_attn.o_proj").replace(".self_attn.", ".attn.")
    return f"{module}.lora_{match['ab']}.MatMul.weight"


def lora_float_nodes(adapter_dir: Path) -> list[str]:
    """Node names of the LoRA MatMuls, kept out of int4/int8 so the adapter stays float (what was trained)."""
    nodes = []
    for key in _peft_tensors(adapter_dir):
        name = onnx_name(key)
        for part in _split_names(name) if name else []:
            module, ab = part.removesuffix(".MatMul.weight").rsplit(".", 1)
            nodes.append("/" + module.replace(".", "/").replace("/layers/", "/layers.") + f"/{ab}/MatMul")
    return nodes


def make_lora_inputs(model_file: Path) -> dict[str, dict[str, Any]]:
    """Turn the LoRA initializers of ``model_file`` into graph inputs; return {name: {shape, dtype}}."""
    import numpy as np
    import onnx
    import onnx.numpy_helper

    model = onnx.load(str(model_file))  # with external data: it is written back below
    graph, inputs = model.graph, {}
    for initializer in [i for i in graph.initializer if LORA_WEIGHT.search(i.name)]:
        rows, cols = initializer.dims
        shape = [rows, RANK] if ".lora_A." in initializer.name else [RANK, cols]
        graph.input.append(onnx.helper.make_tensor_value_info(initializer.name, initializer.data_type, shape))
        dtype = onnx.helper.tensor_dtype_to_np_dtype(initializer.data_type)
        inputs[initializer.name] = {"shape": shape, "dtype": dtype.name}
        graph.initializer.remove(initializer)
        # Default when no adapter is active: a rank-0 branch (an initializer that is also an input may be overridden).
        empty = np.zeros([0 if d == RANK else d for d in shape], dtype=dtype)
        graph.initializer.append(onnx.numpy_helper.from_array(empty, initializer.name))
    if not inputs:
        raise UnsupportedError(f"{model_file}: the builder added no LoRA branches; cannot keep adapters separate")
    data_file = model_file.with_name(model_file.name + ".data")
    data_file.unlink(missing_ok=True)
    onnx.save(model, str(model_file), save_as_external_data=True, all_tensors_to_one_file=True,
              location=data_file.name, size_threshold=1024)
    return inputs


def adapter_tensors(adapter_dir: Path, lora_inputs: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """The ONNX-named, transposed and scaled LoRA tensors of a PEFT adapter, checked against the base's inputs.

    An adapter trained on another base (other module names or widths) fails naming the file and tensor.
    """
    import numpy as np

    config_file = Path(adapter_dir) / "adapter_config.json"
    try:
        config = json.loads(config_file.read_text(encoding="utf-8"))
    except (OSError, ValueError) as error:
        raise InputDataError(str(config_file), f"not a PEFT adapter ({error})") from error
    if config.get("use_dora"):
        raise UnsupportedError(f"{adapter_dir}: DoRA adapters cannot be kept separate (their magnitude vector "
                               "rescales the base weights): use export.adapters: merged")
    rank, alpha = int(config["r"]), float(config["lora_alpha"])
    scaling = alpha / math.sqrt(rank) if config.get("use_rslora") else alpha / rank
    weights_file, tensors = _weights_file(adapter_dir), {}
    for key, value in _peft_tensors(adapter_dir).items():
        name = onnx_name(key)
        if name is None:
            continue
        names = _split_names(name)
        if any(n not in lora_inputs for n in names):
            raise InputDataError(str(weights_file), "adapter does not fit this base: the base has no LoRA input "
                                 f"for it", field=key)
        array = value.T if ".lora_A." in name else (value * scaling).T  # PEFT [r, in], [out, r]
        parts = [array] * len(names)
        if ".lora_B." in name and len(names) > 1:
            # A fused B splits into the parts' widths, in order, along its columns; widths that do not add up leave
            # it whole, and the shape check below names the misfit.
            widths = [lora_inputs[n]["shape"][1] for n in names]
            if sum(widths) == array.shape[1]:
                parts = np.split(array, np.cumsum(widths)[:-1], axis=1)
        for part_name, part in zip(names, parts):
            expected = lora_inputs[part_name]["shape"]
            fixed = [d for d in expected if d != RANK]
            actual = [d for i, d in enumerate(part.shape) if expected[i] != RANK]
            if actual != fixed:
                raise InputDataError(str(weights_file), f"adapter does not fit this base: shape {list(part.shape)} "
                                     f"where the base expects {expected}", field=key)
            tensors[part_name] = np.ascontiguousarray(part, dtype=lora_inputs[part_name]["dtype"])
    if not tensors:
        raise InputDataError(str(weights_file), "no LoRA tensors in this adapter")
    for name, spec in lora_inputs.items():  # modules this adapter leaves alone: a zero branch of rank 1
        if name not in tensors:
            tensors[name] = np.zeros([1 if d == RANK else d for d in spec["shape"]], dtype=spec["dtype"])
    return tensors


def write_onnx_adapter(tensors: dict[str, Any], path: Path) -> Path:
    import onnxruntime as ort

    adapter = ort.AdapterFormat()
    adapter.set_adapter_version(1)
    adapter.set_model_version(1)
    adapter.set_parameters({name: ort.OrtValue.ortvalue_from_numpy(value) for name, value in tensors.items()})
    adapter.export_adapter(str(path))
    return path


def check_onnx_adapter(path: Path, lora_inputs: dict[str, dict[str, Any]]) -> None:
    """Fail naming the file and the first tensor that does not fit the base (before onnxruntime-genai would)."""
    import onnxruntime as ort

    if not Path(path).is_file():
        raise InputDataError(str(path), "adapter file not found")
    parameters = ort.AdapterFormat.read_adapter(str(path)).get_parameters()
    # In the base's order (its graph inputs), so "the first mismatching tensor" is the same on every run.
    ordered = [n for n in lora_inputs if n in parameters] + sorted(n for n in parameters if n not in lora_inputs)
    for name in ordered:
        spec, value = lora_inputs.get(name), parameters[name]
        shape = list(value.shape())
        if spec is None or len(shape) != 2 or any(e != RANK and e != a for e, a in zip(spec["shape"], shape)):
            raise InputDataError(str(path), f"adapter does not fit this base: shape {shape}, base expects "
                                 f"{spec['shape'] if spec else 'no such LoRA input'}", field=name)


def read_lora_inputs(model_folder: Path) -> dict[str, dict[str, Any]]:
    path = Path(model_folder) / "adapters" / "lora_inputs.json"
    if not path.is_file():
        raise InputDataError(str(model_folder), "this model was exported with merged adapters: it has no "
                             "separate adapters (export.adapters: separate builds them)")
    return json.loads(path.read_text(encoding="utf-8"))


def _weights_file(adapter_dir: Path) -> Path:
    return Path(adapter_dir) / "adapter_model.safetensors"


def _peft_tensors(adapter_dir: Path) -> dict[str, Any]:
    from safetensors.numpy import load_file

    weights_file = _weights_file(adapter_dir)
    if not weights_file.is_file():
        raise InputDataError(str(weights_file), "adapter weights not found (a PEFT adapter saved with safetensors)")
    return load_file(str(weights_file))
