"""params.yaml section `export`: hardware targets, their typed builder options, adapters, the quality gate."""

from __future__ import annotations

import difflib
import re
from typing import Literal

from pydantic import Field, field_validator, model_validator

from slmops.config.base import Section

Precision = Literal["int4", "int8", "fp16", "bf16", "fp32"]
Provider = Literal["cpu", "cuda", "dml", "webgpu"]
QUANTIZED = ("int4", "int8")

# The support matrix (docs/export.md, "Provider support matrix"): what each provider runs, and with separate adapters.
PRECISIONS = {"cpu": ("fp32", "int4", "int8"), "cuda": ("fp32", "fp16", "bf16", "int4", "int8"),
              "dml": ("fp16", "int4"), "webgpu": ("fp32", "fp16", "int4")}
# onnxruntime-genai #1181: LoRA adapters are not applied on DirectML; WebGPU's adapter path is unverified.
SEPARATE_ADAPTERS = {"cpu": "supported", "cuda": "supported",
                     "dml": "not supported by onnxruntime-genai on DirectML (onnxruntime-genai #1181)",
                     "webgpu": "not verified on WebGPU by this project: ship merged weights"}

# Builder options that are typed fields of a target: set them there, not in builder_options.
TYPED = {"block_size": "block_size", "accuracy_level": "accuracy_level", "nodes_to_exclude": "keep_float",
         "adapter_path": "export.adapters"}
# The builder's deprecated aliases (onnxruntime-genai 0.18) and what replaces them here.
DEPRECATED = {"int4_block_size": "block_size", "int4_accuracy_level": "accuracy_level",
              "int4_nodes_to_exclude": "keep_float", "int4_algo_config": "builder_options.algo_config",
              "int4_is_symmetric": "builder_options.is_symmetric",
              "int4_op_types_to_quantize": "builder_options.op_types_to_quantize",
              "disable_qkv_fusion": "builder_options.fuse_qkv (false)", "use_8bits_moe": "builder_options.moe_quant_type"}
# Builder options passed through as they are (onnxruntime-genai 0.18 `--extra_options`, dense decoders).
PASSTHROUGH = {"is_symmetric", "algo_config", "matmul_mixed_precision", "op_types_to_quantize", "prune_lm_head",
               "fuse_qkv", "fuse_mlp_gate_up", "shared_embeddings", "enable_cuda_graph", "enable_dml_graph",
               "enable_webgpu_graph", "use_qdq", "use_webgpu_fp32", "use_cuda_bf16", "moe_quant_type",
               "use_device_allocator_for_initializers", "matmulnbits_weights_prepacked"}
# Friendly names for layers kept out of int4/int8 (else an ONNX node name starting with "/").
KEEP_FLOAT_NODES = {"lm_head": "/lm_head/MatMul", "embeddings": "/model/embed_tokens/Gather"}
ADAPTER_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")


class TargetParams(Section):
    precision: Precision
    execution_provider: Provider
    block_size: Literal[16, 32, 64, 128, 256] = 32  # int4/int8 blocks along the input dimension
    accuracy_level: Literal[0, 1, 2, 3, 4] | None = None  # int4/int8 activations; None: 4 on CPU, 0 elsewhere
    keep_float: list[str] = Field(default_factory=list)  # layers not quantized: lm_head, embeddings, /node/name
    builder_options: dict[str, str | int | float | bool] = Field(default_factory=dict)

    @field_validator("builder_options")
    @classmethod
    def _known_builder_options(cls, options: dict) -> dict:
        for key in options:
            if key in DEPRECATED:
                raise ValueError(f"builder_options.{key} is a deprecated builder alias: use {DEPRECATED[key]}")
            if key in TYPED:
                raise ValueError(f"builder_options.{key}: set it as the target's `{TYPED[key]}` instead")
            if key not in PASSTHROUGH:
                hint = difflib.get_close_matches(key, sorted(PASSTHROUGH | set(TYPED)), n=1)
                raise ValueError(f"builder_options.{key}: unknown builder option"
                                 + (f" (did you mean '{hint[0]}'?)" if hint else f"; known: {', '.join(sorted(PASSTHROUGH))}"))
        return options

    @field_validator("keep_float")
    @classmethod
    def _known_layers(cls, layers: list[str]) -> list[str]:
        for layer in layers:
            if layer not in KEEP_FLOAT_NODES and not layer.startswith("/"):
                raise ValueError(f"keep_float: '{layer}' is neither one of {sorted(KEEP_FLOAT_NODES)} "
                                 "nor an ONNX node name (starting with '/')")
        return layers

    @model_validator(mode="after")
    def _supported(self) -> TargetParams:
        if self.precision not in PRECISIONS[self.execution_provider]:
            raise ValueError(f"precision {self.precision} on {self.execution_provider} is not in the support matrix "
                             f"(it supports {', '.join(PRECISIONS[self.execution_provider])})")
        quantizing_only = {"block_size", "accuracy_level", "keep_float"} & self.model_fields_set
        if self.precision not in QUANTIZED and quantizing_only:
            raise ValueError(f"{', '.join(sorted(quantizing_only))} only apply to int4/int8, not {self.precision}")
        return self

    def nodes_to_exclude(self) -> list[str]:
        return [KEEP_FLOAT_NODES.get(layer, layer) for layer in self.keep_float]


class SpeedParams(Section):
    prompt_count: int = Field(4, gt=0)
    new_tokens: int = Field(64, gt=0)


THREAD_SETTINGS = ("auto", "default")


class RuntimeParams(Section):
    """How onnxruntime-genai sessions are set up when an exported folder is loaded: a choice made on the machine
    the model runs on, so it is overlaid at load time and never written into the shipped genai_config.json."""

    # auto: the CPUs this process may use (os.sched_getaffinity); default: onnxruntime-genai's own choice
    # (half the logical CPUs, at most 16); or a whole number of intra-op threads.
    threads: Literal["auto", "default"] | int = "auto"
    # false: idle intra-op threads sleep instead of spin-waiting for work (onnxruntime's
    # session.intra_op.allow_spinning "0"); costs a wake-up per operator, keeps several threads from starving a
    # loaded machine. Matters only with more than one thread.
    spinning: bool = True

    @field_validator("threads", mode="before")
    @classmethod
    def _thread_count(cls, value: object) -> object:
        if isinstance(value, str) and value.strip().isdigit():
            value = int(value)  # `--params`/`-S` hand numbers over as text
        if isinstance(value, bool) or not (value in THREAD_SETTINGS or isinstance(value, int)):
            raise ValueError(f"expected auto, default or a whole number of threads >= 1, got {value!r}")
        if isinstance(value, int) and value < 1:
            raise ValueError(f"{value} threads: give at least 1, or auto (the CPUs this process may use) or "
                             "default (onnxruntime-genai's choice)")
        return value


class ExportParams(Section):
    targets: list[str] = Field(min_length=1)
    target_options: dict[str, TargetParams]
    speed: SpeedParams = SpeedParams()
    runtime: RuntimeParams = RuntimeParams()
    # merged: the adapter folded into the weights. separate: the base once, each adapter an .onnx_adapter file.
    adapters: Literal["merged", "separate"] = "merged"
    # Names of more PEFT adapters (folders data/06_models/extra_adapters/<name>) shipped on the same base.
    extra_adapters: list[str] = Field(default_factory=list)
    # A target whose F1 falls more than this below the PyTorch fine-tuned model fails its stage.
    max_quality_drop: float = Field(0.03, ge=0.0, le=1.0)
    # What fp32/fp16/bf16 targets hold when quantization-aware training rounded the merged weights onto the
    # int4 grid. merged_model: those weights, as PyTorch was evaluated with. unrounded: base + adapter merged
    # without rounding (lora/dora). Int4/int8 targets always use the merged model.
    float_weights: Literal["merged_model", "unrounded"] = "merged_model"

    @model_validator(mode="after")
    def _every_target_has_supported_options(self) -> ExportParams:
        missing = [t for t in self.targets if t not in self.target_options]
        if missing:
            hints = {t: difflib.get_close_matches(t, list(self.target_options), n=1) for t in missing}
            said = "; ".join(f"did you mean '{h[0]}' for '{t}'?" for t, h in hints.items() if h)
            raise ValueError(f"targets {missing} have no entry under export.target_options" + (f" ({said})" if said else ""))
        if self.adapters == "separate":
            for name in self.targets:
                provider = self.target_options[name].execution_provider
                if SEPARATE_ADAPTERS[provider] != "supported":
                    raise ValueError(f"adapters: separate with target {name}: {SEPARATE_ADAPTERS[provider]}")
                if self.target_options[name].builder_options.get("fuse_mlp_gate_up") is True:
                    raise ValueError(f"adapters: separate with target {name}: the builder cannot fuse the MLP's "
                                     "gate/up projections when they carry LoRA branches; remove fuse_mlp_gate_up "
                                     f"from export.target_options.{name}.builder_options")
        elif self.extra_adapters:
            raise ValueError("extra_adapters need adapters: separate (merged weights hold one adapter only)")
        for adapter in self.extra_adapters:
            if not ADAPTER_NAME.match(adapter) or adapter == "tuned":
                raise ValueError(f"extra_adapters: '{adapter}' is not a valid adapter name (letters, digits, . _ -; "
                                 "'tuned' is the pipeline's own adapter)")
        return self


def check_float_weights(export: ExportParams, method: str, quantization_aware: object) -> None:
    """`float_weights: unrounded` needs an adapter to merge again: full fine-tuning saves only rounded weights."""
    if export.float_weights == "unrounded" and quantization_aware is not None and method == "full":
        raise ValueError("export.float_weights: unrounded merges the adapter without int4 rounding, but "
                         "train.method full trains no adapter and keeps only the rounded weights: set "
                         "export.float_weights: merged_model, or train.quantization_aware: null")
