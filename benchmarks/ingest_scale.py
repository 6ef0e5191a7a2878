"""ingest → template → split at scale: rows/s and peak memory for growing synthetic datasets.

Each size runs in a fresh process (so its peak RSS is its own) through the stages' node functions and the
catalog's datasets, as `kedro run` calls them, on the real SmolLM2 tokenizer and chat template. Flat memory
as rows grow means the stages stream; memory growing with rows means they hold the dataset whole.
Usage: python benchmarks/ingest_scale.py [--sizes 10000 100000 1000000] [--baseline SRC]
  --baseline SRC: also run another revision's code, alternating with this one per size, e.g.
  `git archive <rev> src | tar -x -C /tmp/base` then `--baseline /tmp/base/src`.
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
    import slmops.datasets as catalog_types
    from slmops.config import EMBEDDED_MODEL
    from slmops.datasets import JSONDocumentDataset, JSONLinesDataset, RawRecordsDataset
    from slmops.modeling.bundle import ModelBundle
    from slmops.modeling.sources import resolve_model_source
    from slmops.pipelines.ingest.nodes import validate_records
    from slmops.pipelines.split.nodes import split_train_validation
    from slmops.pipelines.template.nodes import apply_template
    from transformers import AutoTokenizer

    import yaml

    # records and examples: the catalog's type (a revision before streaming had none of its own)
    streamed = getattr(catalog_types, "StreamedJSONLinesDataset", JSONLinesDataset)
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
        records = validate_records(RawRecordsDataset(str(raw)).load(), data, project["template"])
        streamed(f"{folder}/records.jsonl").save(records)
        del records
        times["ingest"] = time.perf_counter() - start
        start = time.perf_counter()
        records = streamed(f"{folder}/records.jsonl").load()
        examples = apply_template(records, project["template"], data, bundle, project["train"]["max_length"])
        streamed(f"{folder}/examples.jsonl").save(examples)
        del records, examples
        times["template"] = time.perf_counter() - start
        start = time.perf_counter()
        examples = streamed(f"{folder}/examples.jsonl").load()
        train, validation, test, summary = split_train_validation(examples, project["split"], data)
        for name, rows in (("train", train), ("validation", validation), ("test", test)):
            JSONLinesDataset(f"{folder}/{name}.jsonl").save(rows)
        JSONDocumentDataset(f"{folder}/split.json").save(summary)
        times["split"] = time.perf_counter() - start
        memory.stop()
    return {"rows": count, "seconds": times, "baseline_mb": memory.start_mb, "peak_mb": memory.peak_mb}


def run_child(count: int, src: Path) -> dict:
    out = subprocess.run([sys.executable, __file__, "--child", str(count), "--src", str(src)], capture_output=True,
                         text=True, check=True).stdout.strip().splitlines()[-1]
    return json.loads(out)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--sizes", type=int, nargs="+", default=[10_000, 100_000, 1_000_000])
    parser.add_argument("--baseline", type=Path, help="another revision's src/ to run alongside, alternating")
    parser.add_argument("--child", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--src", type=Path, default=ROOT / "src", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        sys.path.insert(0, str(args.src))
        print(json.dumps(measure(args.child)))
        return
    codes = ([("baseline", args.baseline)] if args.baseline else []) + [("this", ROOT / "src")]
    print(f"{'code':>8} | {'rows':>9} | {'ingest rows/s':>13} | {'template rows/s':>15} | {'split rows/s':>12} | "
          f"{'total s':>8} | {'peak MB':>8} | {'peak - start MB':>15}")
    for count in args.sizes:
        for name, src in codes:
            result = run_child(count, src)
            s = result["seconds"]
            print(f"{name:>8} | {count:>9,} | {count / s['ingest']:>13,.0f} | {count / s['template']:>15,.0f} | "
                  f"{count / s['split']:>12,.0f} | {sum(s.values()):>8.1f} | {result['peak_mb']:>8.0f} | "
                  f"{result['peak_mb'] - result['baseline_mb']:>15.0f}", flush=True)


if __name__ == "__main__":
    main()
