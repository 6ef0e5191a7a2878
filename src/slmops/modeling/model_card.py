"""Model cards for exported targets: what the model is, how to run it, and (once measured) how it did."""

from __future__ import annotations

from typing import Any

from slmops.config import TargetParams

THREADS_NOTE = ("Threads are a load-time choice made on the machine that runs the model, so `genai_config.json` "
                "names none: `--threads auto` (the CPUs this process may use), `default` (onnxruntime-genai's own "
                "choice: half the logical CPUs) or a number; in Python, overlay the session options before loading "
                "(the pipeline's own setting is `export.runtime` in params.yaml; on a machine busy with other work, "
                "`spinning: false` or one thread avoids threads starving each other).")

QUANTIZED_NOTE = {
    "int4": "int4 weights (MatMulNBits, symmetric, block {block}). With quantization-aware training the merged "
            "weights already lie on this grid, so the int4 model holds the weights PyTorch was evaluated with.",
    "int8": "int8 weights (MatMulNBits 8-bit, block {block}). Weights on the int4 grid of quantization-aware "
            "training are represented exactly in int8 (each int4 step is 16 int8 steps).",
}


def weights_note(options: TargetParams, identity: dict[str, Any]) -> str:
    """What the target's weights are: quantized, or for float targets, which float values they hold."""
    if options.precision in QUANTIZED_NOTE:
        return QUANTIZED_NOTE[options.precision].format(block=options.block_size)
    precision, aware = options.precision, identity.get("quantization_aware")
    if identity["adapter_mode"] == "separate":
        return (f"{precision} weights: the base model's own weights, not rounded, with each adapter applied at run "
                "time" + (" (trained against the int4-rounded base for int4 targets)." if aware else "."))
    if not aware or identity["method"] == "qlora":
        return f"{precision} weights: exactly the merged PyTorch weights (trained without int4 rounding)."
    if identity.get("float_weights") == "unrounded":
        return (f"{precision} weights: base + adapter merged without int4 rounding (`export.float_weights: "
                "unrounded`). The adapter was trained quantization-aware, so these are not the weights PyTorch "
                "was evaluated with: compare the measured quality below with the int4 target's.")
    block, unrounded = aware.get("block_size", 32), "For base + adapter merged without rounding, set " \
        "`export.float_weights: unrounded`."
    if aware.get("target") == "base":
        return (f"{precision} weights: the base weights rounded onto the int4 grid (block {block}) by "
                "quantization-aware training (`train.quantization_aware.target: base`), plus the adapter merged in "
                f"float, as PyTorch was evaluated with. {unrounded}")
    return (f"{precision} weights holding int4-grid values: quantization-aware training (`train.quantization_aware`) "
            f"rounded every merged weight onto the int4 grid (block {block}), and PyTorch was evaluated with those "
            f"weights. This target computes what the int4 target computes, at {precision} size and speed (its "
            f"activations stay float). {unrounded}")


def render_model_card(target: str, options: TargetParams, identity: dict[str, Any],
                      adapters: list[str], measured: dict[str, Any] | None = None, lineage: str | None = None) -> str:
    """Markdown card. ``identity``: base model, training method, quantization-aware setting, adapter mode."""
    mode = identity["adapter_mode"]
    lines = [
        f"# {target}: {identity['base_model']} fine-tuned ({identity['method']})", "",
        "| | |", "|---|---|",
        f"| base model | `{identity['base_model']}` |",
        f"| adapter | {identity['method']}, " + ("merged into the weights" if mode == "merged" else
                                                f"kept separate: {', '.join(f'`adapters/{a}.onnx_adapter`' for a in adapters)}") + " |",
        f"| quantization-aware training | {identity['quantization_aware'] or 'off'} |",
        f"| precision | {options.precision} |",
        f"| execution provider | {options.execution_provider} |",
        "", weights_note(options, identity), "",
        "## Run it", "", "```bash",
        f"slmops generate --target {target}" + (" --adapter tuned" if mode == "separate" else "")
        + ' --threads auto "play some jazz"',
        "```", "", THREADS_NOTE, "", "```python", "import json, os", "import onnxruntime_genai as og",
        f'config = og.Config("data/07_model_output/onnx/{target}")',
        "threads = len(os.sched_getaffinity(0))  # `auto`: the CPUs this process may use",
        'config.overlay(json.dumps({"model": {"decoder": {"session_options": {"intra_op_num_threads": threads}}}}))',
        "model = og.Model(config)",
    ]
    if mode == "separate":
        lines += ["adapters = og.Adapters(model)",
                  f'adapters.load("data/07_model_output/onnx/{target}/adapters/tuned.onnx_adapter", "tuned")',
                  "# per request: generator.set_active_adapter(adapters, \"tuned\")"]
    lines += ["```", "", "## Measured", ""]
    lines += _measured(measured) if measured else [
        f"Measured by the `evaluate_onnx@{target}` stage: `reports/metrics/export/{target}.json` and the complete "
        f"card `reports/model_cards/{target}.md`."]
    lines += ["", "## Lineage", "", lineage or f"Recorded in `{target}.lineage.json` beside this folder: "
              f"`slmops lineage data/07_model_output/onnx/{target}` traces it back to the raw data.", ""]
    return "\n".join(lines)


def _measured(metrics: dict[str, Any]) -> list[str]:
    if not metrics.get("ran"):
        return [f"Not run: {metrics['not_run_reason']}", "",
                "Structural checks passed: the ONNX graph loads, genai_config.json is valid and names the "
                f"`{metrics['execution_provider']}` provider."]
    quality, decode = metrics["quality"], metrics["decode"]
    # Classification reports accuracy, generation exact match: the share of answers that are right as a whole.
    whole = "accuracy" if "accuracy" in quality["onnx"] else "exact_match"
    lines = [
        f"On {metrics['rows']} validation rows: F1 {quality['onnx']['f1']:.3f} (PyTorch {quality['pytorch']['f1']:.3f}, "
        f"delta {quality['delta']['f1']:+.3f}), {whole.replace('_', ' ')} {quality['onnx'][whole]:.3f}; "
        f"same greedy answer as PyTorch on {metrics['greedy_agreement']:.1%} of them.",
        "",
        f"Decode {decode['onnx_tokens_per_second']} tokens/s ({decode['speedup']}x transformers fp32 in the same run), "
        f"first token {decode['onnx_first_token_ms']} ms, load {metrics['load_seconds']} s, "
        f"{metrics['size_mb']} MB on disk, peak memory +{metrics['peak_memory_mb']} MB.",
    ]
    if "runtime" in metrics:
        runtime = metrics["runtime"]
        count = runtime["intra_op_num_threads"]
        lines += ["", f"Measured with threads `{runtime['threads']}` ("
                  + (f"{count} intra-op thread{'s' if count != 1 else ''}" if count else
                     "onnxruntime-genai's default count")
                  + ("" if runtime.get("spinning", True) else ", idle threads sleep") + ")."]
    if "without_adapter" in decode:
        lines += ["", f"Without an active adapter: {decode['without_adapter']['tokens_per_second']} tokens/s "
                      f"(adapter files: {metrics.get('adapter_size_mb', 0)} MB)."]
    return lines
