"""Check a built HTML site: every internal link and image resolves, and
every gallery example shows its figures.

Usage: ``python docs/check_html.py docs/_build/html``. Exits 1 and lists the
problems if there are any.

- Every ``href`` and ``src`` that is not an external address must name a
  file of the site, and its ``#fragment`` an ``id`` in that file.
- Every example page of the gallery (``auto_examples/plot_*.html``) must
  show at least one figure, and every image file it shows must exist and be
  non-empty.
"""

import sys
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import unquote, urlsplit


class _Page(HTMLParser):
    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.ids = set()
        self.links = []  # (attribute, value)

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        for key in ("id", "name"):
            if attrs.get(key):
                self.ids.add(attrs[key])
        for key in ("href", "src"):
            if attrs.get(key) is not None:
                self.links.append((tag, key, attrs[key]))


def _parse(path, cache):
    if path not in cache:
        page = _Page()
        page.feed(path.read_text(encoding="utf-8", errors="replace"))
        cache[path] = page
    return cache[path]


def check(site):
    """The list of problems found in the site under ``site``."""
    site = Path(site).resolve()
    cache = {}
    problems = []
    pages = sorted(
        p for p in site.rglob("*.html") if p.relative_to(site).parts[0] != "_static"
    )
    if not pages:
        return [f"{site}: no HTML pages"]
    for page_path in pages:
        page = _parse(page_path, cache)
        where = page_path.relative_to(site)
        for tag, key, value in page.links:
            parts = urlsplit(value)
            if parts.scheme or value.startswith("//"):
                continue  # external (http, https, mailto, data)
            target = page_path
            if parts.path:
                target = (page_path.parent / unquote(parts.path)).resolve()
                if target.is_dir():
                    target = target / "index.html"
                if not target.is_file():
                    problems.append(f"{where}: <{tag} {key}={value!r}>: no such file")
                    continue
            fragment = unquote(parts.fragment)
            if (
                fragment
                and target.suffix == ".html"
                and fragment not in _parse(target, cache).ids
            ):
                problems.append(f"{where}: <{tag} {key}={value!r}>: no such anchor")
    gallery = site / "auto_examples"
    examples = sorted(gallery.glob("plot_*.html"))
    if not examples:
        problems.append("auto_examples: no example pages")
    for example in examples:
        images = [
            value
            for tag, key, value in _parse(example, cache).links
            if tag == "img" and "sphx_glr_" in value and "thumb" not in value
        ]
        where = example.relative_to(site)
        if not images:
            problems.append(f"{where}: shows no figure")
        for value in images:
            target = (example.parent / unquote(urlsplit(value).path)).resolve()
            if not target.is_file() or target.stat().st_size == 0:
                problems.append(f"{where}: figure {value!r} missing or empty")
    return problems


def main(argv=None):
    argv = sys.argv[1:] if argv is None else argv
    site = Path(argv[0] if argv else "docs/_build/html")
    problems = check(site)
    pages = len(list(site.rglob("*.html")))
    figures = len(list((site / "_images").glob("sphx_glr_*.png")))
    for problem in problems:
        print(problem)
    print(
        f"{pages} pages, {figures} gallery images checked: {len(problems)} problem(s)"
    )
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
