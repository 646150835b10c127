"""The README's Python examples run and print what their comments say."""

import contextlib
import io
import re
from pathlib import Path

import pytest

README = Path(__file__).resolve().parents[1] / "README.md"
BLOCKS = re.findall(r"```python\n(.*?)```", README.read_text(), re.DOTALL)


def test_readme_has_examples():
    assert len(BLOCKS) >= 4


@pytest.mark.parametrize("index", range(len(BLOCKS)))
def test_readme_example_runs(index):
    block = BLOCKS[index]
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        code = compile(block, f"README.md example {index}", "exec")
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
