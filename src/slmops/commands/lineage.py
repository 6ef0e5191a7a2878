"""`slmops lineage PATH`: the chain of an artifact back to the raw data; `--verify` rechecks its hashes."""

from __future__ import annotations

import json
import sys

import click

from slmops.errors import SlmopsError


@click.command(name="lineage")
@click.argument("path", type=click.Path())
@click.option("--json", "as_json", is_flag=True, help="Print the chain as JSON.")
@click.option("--verify", is_flag=True, help="Recompute hashes on disk; name each file that no longer matches.")
def lineage(path: str, as_json: bool, verify: bool) -> None:
    """Trace PATH (any artifact, or a file inside one) back to the raw data it was made from."""
    from pathlib import Path

    from slmops.lineage import build_chain, project_root, text_tree, verify_chain

    root = project_root(Path(path).absolute().parent)
    try:
        chain = build_chain(path, root)
    except SlmopsError as error:
        click.secho(f"error: {error}", fg="red", err=True)
        sys.exit(2)
    if not verify:
        click.echo(json.dumps(chain, indent=2, sort_keys=True) if as_json else text_tree(chain))
        return
    mismatches = verify_chain(chain, root)
    if as_json:
        click.echo(json.dumps({"artifact": chain["artifact"], "ok": not mismatches,
                               "mismatches": [vars(m) for m in mismatches]}, indent=2))
    elif mismatches:
        for mismatch in mismatches:
            click.echo(f"MISMATCH {mismatch}")
    else:
        click.echo(f"OK: {chain['artifact']} and every artifact it was made from match their lineage records")
    if mismatches:
        click.secho(f"{len(mismatches)} file(s) no longer match the lineage of {chain['artifact']}", fg="red",
                    err=True)
        sys.exit(1)
