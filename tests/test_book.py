"""The book builds (Sphinx warnings are errors) with every notebook page and its figures."""

import re
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import unquote, urlparse

import pytest

from colorlib.course import EXECUTED, solution_paths
from colorlib.course.book import build
from colorlib.course.execute import execute

pytestmark = [pytest.mark.slow, pytest.mark.book]


class Links(HTMLParser):
    def __init__(self):
        super().__init__()
        self.hrefs, self.imgs = [], []

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "a" and attrs.get("href"):
            self.hrefs.append(attrs["href"])
        if tag == "img" and attrs.get("src"):
            self.imgs.append(attrs["src"])


@pytest.fixture(scope="module")
def html(tmp_path_factory):
    for path in solution_paths():  # normally already executed by test_notebooks.py
        if not (EXECUTED / path.name).exists():
            execute(path)
    index = build(out=tmp_path_factory.mktemp("book"))
    assert index.exists()
    return index.parent


def parse(page: Path) -> Links:
    links = Links()
    links.feed(page.read_text())
    return links


def test_every_notebook_has_a_page_with_its_figures(html):
    for path in solution_paths():
        page = html / "notebooks" / f"{path.stem}.html"
        assert page.exists(), f"no book page for {path.name}"
        imgs = [s for s in parse(page).imgs if not s.startswith("http")]
        figures = [s for s in imgs if re.search(r"\.(png|svg|jpg)$", s) and "logo" not in s]
        assert figures, f"{page.name} shows no figures"
        for src in figures:
            assert (page.parent / unquote(src)).exists(), f"{page.name}: missing image {src}"


def test_intro_schedule_and_instructor_pages(html):
    for name in ("index", "intro", "schedule", "instructors"):
        assert (html / f"{name}.html").exists(), name


def test_internal_links_resolve(html):
    broken = []
    for page in html.rglob("*.html"):
        for href in parse(page).hrefs:
            url = urlparse(href)
            if url.scheme or href.startswith(("#", "mailto:")) or not url.path:
                continue
            target = (page.parent / unquote(url.path)).resolve()
            if not target.exists():
                broken.append(f"{page.relative_to(html)} -> {href}")
    assert not broken, "broken internal links:\n" + "\n".join(broken[:20])
