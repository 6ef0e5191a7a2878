"""An artifact's chain as a readable tree (terminal) or as Markdown (report, model cards)."""

from __future__ import annotations

from typing import Any


def short(md5: str | None) -> str:
    if not md5:
        return "-"
    return md5[:12] + (".dir" if md5.endswith(".dir") else "")


def describe_maker(node: dict[str, Any]) -> str:
    made_by = node.get("made_by") or {}
    parts = [f"made by {made_by.get('pipeline')}/{made_by.get('node')}"] if made_by else []
    runtime = made_by.get("runtime_params") or {}
    parts += [f"{k}={v}" for k, v in sorted(runtime.items())]
    if node.get("params"):
        parts.append("params: " + ", ".join(sorted(node["params"])))
    return "; ".join(parts)


def describe_code(node: dict[str, Any]) -> str:
    code = node.get("code") or {}
    if not code.get("commit"):
        return "code: no git commit"
    return f"code {code['commit'][:12]} ({'dirty' if code.get('dirty') else 'clean'})"


def describe_versions(node: dict[str, Any]) -> str:
    return ", ".join(f"{name} {version}" for name, version in (node.get("versions") or {}).items())


def describe_base(node: dict[str, Any]) -> str | None:
    base = node.get("base_model")
    return f"base model {base.get('name_or_path')} {short(base.get('md5'))}" if base else None


def _source_line(source: dict[str, Any]) -> str:
    named = source.get("name_or_path")
    extra = f" {source['file']}" if source.get("file") else ""
    revision = f" revision {source['revision']}" if source.get("revision") else ""
    return f"source {named}{extra}{revision} md5 {short(source.get('md5'))}"


def text_tree(chain: dict[str, Any]) -> str:
    """The chain as an indented tree; an artifact seen before is named, not repeated."""
    lines = [f"{chain['artifact']}  ({describe_maker(chain)})"]
    details = [describe_base(chain), describe_code(chain), describe_versions(chain)]
    lines += [f"    {d}" for d in details if d]
    _tree_inputs(chain, "", lines, {chain["artifact"]})
    return "\n".join(lines)


def _tree_inputs(node: dict[str, Any], indent: str, lines: list[str], seen: set[str]) -> None:
    children: list[tuple[str, dict[str, Any] | None]] = []
    if node.get("source"):
        children.append((_source_line(node["source"]), None))
    for entry in node.get("inputs", []):
        where = entry.get("path") or ", ".join(f"{k}={v}" for k, v in (entry.get("described") or {}).items())
        label = f"{entry['name']}: {where} md5 {short(entry.get('md5'))}"
        nested = entry.get("lineage")
        if nested is None and entry.get("path"):
            label += "  (raw data)" if entry.get("md5") else ""
        elif nested is not None and entry.get("path") in seen:
            label += "  (see above)"
            nested = None
        elif nested is not None:
            label += f"  ({describe_maker(nested)})"
            seen.add(entry["path"])
        children.append((label, nested))
    for index, (label, nested) in enumerate(children):
        last = index == len(children) - 1
        lines.append(f"{indent}{'└── ' if last else '├── '}{label}")
        if nested is not None:
            _tree_inputs(nested, indent + ("    " if last else "│   "), lines, seen)


def markdown(chain: dict[str, Any]) -> str:
    """The chain as a Markdown section body: a summary line, then nested bullets back to the raw data."""
    header = [f"`{chain['artifact']}`: {describe_maker(chain)}."]
    base = describe_base(chain)
    header.append(f"{base[0].upper()}{base[1:]}." if base else "No base model in this chain.")
    header.append(f"{describe_code(chain)[0].upper()}{describe_code(chain)[1:]}; {describe_versions(chain)}.")
    lines = [" ".join(header), ""]
    _markdown_inputs(chain, 0, lines, {chain["artifact"]})
    return "\n".join(lines) + "\n"


def _markdown_inputs(node: dict[str, Any], depth: int, lines: list[str], seen: set[str]) -> None:
    pad = "  " * depth
    if node.get("source"):
        lines.append(f"{pad}- {_source_line(node['source']).replace('source ', 'source `', 1).replace(' md5', '` md5', 1)}")
    for entry in node.get("inputs", []):
        where = entry.get("path") or ", ".join(f"{k}={v}" for k, v in (entry.get("described") or {}).items())
        nested = entry.get("lineage")
        text = f"{pad}- {entry['name']}: `{where}` md5 `{short(entry.get('md5'))}`"
        if nested is None:
            lines.append(text + (" (raw data)" if entry.get("path") else ""))
        elif entry["path"] in seen:
            lines.append(text + " (see above)")
        else:
            seen.add(entry["path"])
            lines.append(f"{text}, {describe_maker(nested)}")
            _markdown_inputs(nested, depth + 1, lines, seen)
