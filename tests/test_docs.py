"""The Python examples of the README and of the user guide (docs/**/*.md)
run and print what their comments say."""

import contextlib
import importlib
import importlib.util
import io
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").rglob("*.md"))]
PAGES = [p for p in PAGES if "_build" not in p.parts]
BLOCKS = [
    (page.relative_to(ROOT).as_posix(), index, block)
    for page in PAGES
    for index, block in enumerate(
        re.findall(r"```python\n(.*?)```", page.read_text(), re.DOTALL)
    )
]


def test_pages_have_examples():
    pages = {page for page, _, _ in BLOCKS}
    assert "README.md" in pages
    assert len(pages) >= 6
    assert len(BLOCKS) >= 12


@pytest.mark.parametrize(
    ("page", "index", "block"), BLOCKS, ids=[f"{p}:{i}" for p, i, _ in BLOCKS]
)
def test_example_runs(page, index, block):
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        code = compile(block, f"{page} example {index}", "exec")
        exec(code, {"__name__": "__main__"})
    printed = " ".join(out.getvalue().split())
    # A print whose comment looks like a value ("# [-0.1  4.9]", "# 3",
    # "# True") must print it; the comments are checked in order.
    position = 0
    for line in block.split("\n"):
        comment = re.match(r"print\(.*\)\s+#\s*(.+)$", line)
        if comment and re.match(r"[-\[\d(]|True|False", comment.group(1)):
            expected = " ".join(comment.group(1).split())
            found = printed.find(expected, position)
            assert found >= 0, (line, printed)
            position = found + len(expected)


def _api_entries():
    """The names docs/api.rst documents: autosummary entries (relative to
    ``emfast``) and ``.. data::`` directives."""
    text = (ROOT / "docs" / "api.rst").read_text()
    entries = set(re.findall(r"^   ([A-Za-z_][\w.]*)$", text, re.MULTILINE))
    entries |= set(re.findall(r"^\.\. data:: (\w+)$", text, re.MULTILINE))
    return entries


def test_api_reference_lists_every_public_name():
    import emfast
    import emfast.engine

    entries = _api_entries()
    assert set(emfast.__all__) <= entries
    assert {f"engine.{name}" for name in emfast.engine.__all__} <= entries
    for entry in entries:  # and every entry exists
        module, _, name = f"emfast.{entry}".rpartition(".")
        assert hasattr(importlib.import_module(module), name), entry


def _check_html():
    spec = importlib.util.spec_from_file_location(
        "check_html", ROOT / "docs" / "check_html.py"
    )
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _write_site(root, page, example):
    (root / "auto_examples").mkdir(parents=True)
    (root / "_images").mkdir()
    (root / "_images" / "sphx_glr_plot_a_001.png").write_bytes(b"\x89PNG")
    (root / "index.html").write_text(page)
    (root / "auto_examples" / "plot_a.html").write_text(example)


def test_html_check_passes_a_sound_site(tmp_path):
    _write_site(
        tmp_path,
        '<h1 id="top">x</h1><a href="#top">t</a><a href="auto_examples/plot_a.html'
        '#fig">e</a><a href="https://example.org/missing">ext</a>',
        '<div id="fig"><img src="../_images/sphx_glr_plot_a_001.png"></div>',
    )
    assert _check_html().check(tmp_path) == []


def test_html_check_finds_broken_links_anchors_and_figures(tmp_path):
    _write_site(
        tmp_path,
        '<a href="nowhere.html">x</a><a href="#missing">y</a>'
        '<img src="_images/gone.png">',
        '<p>no figure</p><img src="../_images/sphx_glr_plot_b_001.png">',
    )
    problems = "\n".join(_check_html().check(tmp_path))
    assert "nowhere.html" in problems and "no such file" in problems
    assert "#missing" in problems and "no such anchor" in problems
    assert "_images/gone.png" in problems
    assert "sphx_glr_plot_b_001.png" in problems
