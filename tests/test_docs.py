"""The docs cannot drift: the params reference is what its script generates, the site builds with --strict,
and the README stays a front door whose links all resolve."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

pytestmark = pytest.mark.fast  # no dvc, no model: about ten seconds, most of it two mkdocs builds

ROOT = Path(__file__).resolve().parents[1]
README_MAX_LINES = 250


def _mkdocs(*args: str, cwd: Path = ROOT) -> subprocess.CompletedProcess:
    pytest.importorskip("mkdocs", reason="the test extras install mkdocs: pip install -e '.[test]'")
    return subprocess.run([sys.executable, "-m", "mkdocs", *args], cwd=cwd, capture_output=True, text=True,
                          timeout=300, env=dict(os.environ, NO_MKDOCS_2_WARNING="1"))


def test_params_reference_is_what_the_script_generates():
    result = subprocess.run([sys.executable, "scripts/params_reference.py", "--stdout"], cwd=ROOT,
                            capture_output=True, text=True, timeout=120,
                            env=dict(os.environ, PYTHONPATH=str(ROOT / "src")))
    assert result.returncode == 0, result.stderr
    assert (ROOT / "docs/params.md").read_text(encoding="utf-8") == result.stdout, (
        "docs/params.md is stale: run `python scripts/params_reference.py`")


def test_params_reference_names_every_key_with_its_default_and_a_comment_from_params_yaml():
    page = (ROOT / "docs/params.md").read_text(encoding="utf-8")
    from slmops.config import Params

    for section in Params.model_fields:
        assert f"## `{section}`" in page
    # a key, its type with its bound, its default, the shipped value and the comment beside it in params.yaml
    assert ("| `save_steps` | int, > 0 | `50` | `40` | checkpoint every N steps; a cut-off identical run resumes "
            "from the last complete one |") in page
    assert "### `export.target_options.<name>`" in page and "| `keep_float` | list[str] | `[]` |" in page


def test_the_site_builds_strictly(tmp_path):
    """Broken links (between pages, to anchors, to results files outside docs/) and pages missing from the nav
    are warnings, which --strict turns into a failed build."""
    result = _mkdocs("build", "--strict", "-d", str(tmp_path / "site"))
    assert result.returncode == 0, result.stdout + result.stderr
    assert (tmp_path / "site/params/index.html").is_file()
    # a figure's link to its results file is checked and the file copied into the site
    assert (tmp_path / "site/repo/reports/metrics/eval.json").is_file()


def test_a_broken_link_or_a_page_left_out_of_the_nav_fails_the_build(tmp_path):
    docs = tmp_path / "docs"
    (docs / "hooks").mkdir(parents=True)
    (docs / "hooks/repo_links.py").write_text((ROOT / "docs/hooks/repo_links.py").read_text())
    (tmp_path / "results.json").write_text("{}")
    (docs / "index.md").write_text("# Home\n\n[a figure](../results.json), [a lost one](../missing.json)\n")
    (docs / "orphan.md").write_text("# Not in the nav\n")
    (tmp_path / "mkdocs.yml").write_text(textwrap.dedent("""\
        site_name: t
        docs_dir: docs
        exclude_docs: hooks/
        hooks: [docs/hooks/repo_links.py]
        validation: {omitted_files: warn, absolute_links: warn, unrecognized_links: warn, anchors: warn}
        nav: [index.md]
        """))
    result = _mkdocs("build", "--strict", "-d", str(tmp_path / "site"), cwd=tmp_path)
    log = result.stdout + result.stderr
    assert result.returncode != 0
    assert "'../missing.json', which is not a file in the repository" in log
    assert "orphan.md" in log
    assert "../results.json" not in log


def test_readme_is_a_front_door_whose_links_resolve():
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    assert len(text.splitlines()) <= README_MAX_LINES, "README.md is the front door: move detail into docs/"
    links = re.findall(r"\]\(([^)\s]+)\)", text)
    relative = [link for link in links if not re.match(r"[a-z]+:", link) and not link.startswith("#")]
    assert relative, "the README links into docs/ and to its results files"
    # A folder of results (one record per stage) is linked as the folder; anything else must be a file.
    missing = [link for link in relative if not ((ROOT / link.split("#")[0]).is_file() or
                                                 (link.endswith("/") and (ROOT / link).is_dir()))]
    assert not missing, f"README links to files that do not exist: {missing}"
    for link in relative:  # a link into a docs page names a heading that page has
        path, _, anchor = link.partition("#")
        if anchor and path.endswith(".md"):
            headings = re.findall(r"^#+ (.+)$", (ROOT / path).read_text(encoding="utf-8"), flags=re.M)
            slugs = {re.sub(r"[^\w\s-]", "", h.lower()).strip().replace(" ", "-") for h in headings}
            assert anchor in slugs, f"README links to {link}, a heading {path} does not have"
