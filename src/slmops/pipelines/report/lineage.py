"""What the run was made from: the merged model's lineage chain, the git revision, and dvc.lock's hashes."""

from __future__ import annotations

from typing import Any

from slmops.pipelines.report.markdown import code, table
from slmops.pipelines.report.tables import describe_bytes

REPORT_STAGE = "report"  # its own outs in dvc.lock describe the previous report, not this one's inputs


def dvc_hash(entry: dict[str, Any]) -> str | None:
    """The content hash of a dvc.lock entry; DVC 3 writes `hash: md5` to name the key holding it."""
    if entry.get("md5"):
        return str(entry["md5"])
    named = entry.get("hash")
    if isinstance(named, str) and entry.get(named):
        return str(entry[named])
    return named if isinstance(named, str) and named not in {"md5", "md5-dos2unix"} else None


def lineage_artifacts(dvc_lock: dict[str, Any]) -> list[list[str]]:
    """Every stage output, plus data files that come from outside the pipeline (the raw data)."""
    stages = {name: stage for name, stage in (dvc_lock.get("stages") or {}).items() if name != REPORT_STAGE}
    produced = {out["path"] for stage in stages.values() for out in stage.get("outs") or []}
    rows, seen = [], set()

    def row(entry: dict[str, Any], origin: str) -> list[str]:
        digest = dvc_hash(entry)
        return [code(entry["path"]), origin, code(digest) if digest else "n/a",
                describe_bytes(entry.get("size"), entry.get("nfiles"))]

    def made_here(path: str) -> bool:  # an output, or a file inside an output folder (split's data/05_model_input)
        return path in produced or any(path.startswith(out.rstrip("/") + "/") for out in produced)

    for name, stage in stages.items():
        for dep in stage.get("deps") or []:
            if dep["path"].startswith("data/") and not made_here(dep["path"]) and dep["path"] not in seen:
                seen.add(dep["path"])
                rows.append(row(dep, "source data"))
        for out in stage.get("outs") or []:
            if out["path"] not in seen:
                seen.add(out["path"])
                rows.append(row(out, name))
    return rows


def lineage_context(code_revision: dict[str, Any], dvc_lock: dict[str, Any],
                    merged_model_chain: dict[str, Any] | None = None) -> dict[str, Any]:
    """Git and dvc.lock facts, and the merged model's lineage chain back to the raw data when recorded."""
    from slmops.lineage import markdown

    artifacts = lineage_artifacts(dvc_lock or {})
    return {"commit": code_revision.get("commit"), "dirty": bool(code_revision.get("dirty")),
            "chain": markdown(merged_model_chain) if merged_model_chain else None,
            "artifacts": table(["Artifact", "Produced by", "MD5", "Size"], artifacts, "lllr") if artifacts else None}
