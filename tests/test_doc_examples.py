"""The Python examples of the README and of the user guide (docs/**/*.md)
run and print what their comments say."""

import contextlib
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
