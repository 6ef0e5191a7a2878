"""ingest → template → split at scale: rows/s and peak memory for growing synthetic datasets.

Each size runs in a fresh process (so its peak RSS is its own) through the stages' node functions and
datasets, as `kedro run` calls them, on the real SmolLM2 tokenizer and chat template. Flat memory as rows
grow means the stage streams; memory growing with rows means it holds the dataset whole.
Usage: python benchmarks/ingest_scale.py [--sizes 10000 100000 1000000]
"""

from __future__ import annotations

import argparse
import json
import random
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

LABELS = ["PlayMusic", "GetWeather", "BookRestaurant", "AddToPlaylist", "RateBook", "SearchScreeningEvent",
          "SearchCreativeWork"]
WORDS = "play some jazz will it rain tomorrow in paris book a table for two add this song rate the novel".split()


class PeakMemory:
    """Highest resident memory while the stages run (sampled), apart from the tokenizer's load-time peak."""

    def __init__(self):
        import psutil

        self._process, self.peak_mb, self._running = psutil.Process(), 0.0, True
        self.start_mb = self._rss()
        self._thread = threading.Thread(target=self._sample, daemon=True)
        self._thread.start()

    def _rss(self) -> float:
        return self._process.memory_info().rss / 2**20

    def _sample(self) -> None:
        while self._running:
            self.peak_mb = max(self.peak_mb, self._rss())
            time.sleep(0.005)

    def stop(self) -> None:
        self._running = False
        self._thread.join()


def write_rows(path: Path, count: int) -> None:
    draw = random.Random(count)
    with open(path, "w", encoding="utf-8") as handle:
        for i in range(count):
            text = " ".join(draw.choices(WORDS, k=draw.randint(4, 14))) + f" #{i}"
            handle.write(json.dumps({"text": text, "label": draw.choice(LABELS)}) + "\n")


def measure(count: int) -> dict:
    """Run in a child process: the three stages over ``count`` rows, timed one by one."""
    from slmops.config import EMBEDDED_MODEL
    from slmops.datasets import JSONLinesDataset
    from slmops.datasets.raw_records import read_raw_records
    from slmops.modeling.bundle import ModelBundle
    from slmops.modeling.sources import resolve_model_source
    from slmops.pipelines.ingest.nodes import validate_records
    from slmops.pipelines.split.nodes import split_train_validation
    from slmops.pipelines.template.nodes import apply_template
    from transformers import AutoTokenizer

    import yaml

    project = yaml.safe_load((ROOT / "params.yaml").read_text())
    source = resolve_model_source(EMBEDDED_MODEL)
    tokenizer = AutoTokenizer.from_pretrained(source.location, gguf_file=source.gguf_file)
    bundle = ModelBundle(model=object(), tokenizer=tokenizer)
    with tempfile.TemporaryDirectory() as folder:
        raw = Path(folder) / "raw.jsonl"
        write_rows(raw, count)
        data = dict(project["data"], source=str(raw))
        memory = PeakMemory()
        times = {}
        start = time.perf_counter()
        records = validate_records(read_raw_records(str(raw)), data, project["template"])
        JSONLinesDataset(f"{folder}/records.jsonl").save(records)
        del records
        times["ingest"] = time.perf_counter() - start
        start = time.perf_counter()
        records = JSONLinesDataset(f"{folder}/records.jsonl").load()
        examples = apply_template(records, project["template"], data, bundle, project["train"]["max_length"])
        del records
        JSONLinesDataset(f"{folder}/examples.jsonl").save(examples)
        del examples
        times["template"] = time.perf_counter() - start
        start = time.perf_counter()
        examples = JSONLinesDataset(f"{folder}/examples.jsonl").load()
        train, validation, test, _ = split_train_validation(examples, project["split"], data)
        for name, rows in (("train", train), ("validation", validation), ("test", test)):
            JSONLinesDataset(f"{folder}/{name}.jsonl").save(rows)
        times["split"] = time.perf_counter() - start
        memory.stop()
    return {"rows": count, "seconds": times, "baseline_mb": memory.start_mb, "peak_mb": memory.peak_mb}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--sizes", type=int, nargs="+", default=[10_000, 100_000, 1_000_000])
    parser.add_argument("--child", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(measure(args.child)))
        return
    print(f"{'rows':>9} | {'ingest rows/s':>13} | {'template rows/s':>15} | {'split rows/s':>12} | "
          f"{'total s':>8} | {'peak MB':>8} | {'peak - start MB':>15}")
    for count in args.sizes:
        out = subprocess.run([sys.executable, __file__, "--child", str(count)], capture_output=True, text=True,
                             check=True).stdout.strip().splitlines()[-1]
        result = json.loads(out)
        s = result["seconds"]
        print(f"{count:>9,} | {count / s['ingest']:>13,.0f} | {count / s['template']:>15,.0f} | "
              f"{count / s['split']:>12,.0f} | {sum(s.values()):>8.1f} | {result['peak_mb']:>8.0f} | "
              f"{result['peak_mb'] - result['baseline_mb']:>15.0f}", flush=True)


if __name__ == "__main__":
    main()
