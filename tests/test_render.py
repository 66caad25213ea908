"""The HTML view apart from its writers: markup only in template files, the server drawing the page without a writer,
and the file, the server and the renderer giving the same page."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

from framelab.score.render import STYLE, TEMPLATES, render_html
from framelab.score.writers import HtmlWriter
from framelab.serve.render import html_page

from .conftest import REPO
from .test_writers import MODELS, _article

PACKAGE = REPO / "framelab"
#: The Python modules that draw or serve the page: none may hold markup of its own.
DRAWING = sorted([*(PACKAGE / "score").glob("*.py"), *(PACKAGE / "serve").glob("*.py")])
#: An HTML element the page is made of, opened or closed, as it would start in a string literal (lower case, as the
#: templates write them: ``<Body ID>`` in a docstring is no markup).
ELEMENT = re.compile(
    r"<(?:!DOCTYPE|/?(?:html|head|body|meta|title|style|script|h[1-6]|div|section|p|span|u|mark|small|b|em|q)\b)"
)


def markup_literals(path: Path) -> list[str]:
    """``line: literal`` of every string literal in ``path`` (f-string parts and docstrings included) holding markup."""
    nodes = ast.walk(ast.parse(path.read_text(encoding="utf-8")))
    found = [n for n in nodes if isinstance(n, ast.Constant) and isinstance(n.value, str) and ELEMENT.search(n.value)]
    return [f"{n.lineno}: {n.value[:60]!r}" for n in sorted(found, key=lambda n: (n.lineno, n.col_offset))]


def _class_names(path: Path) -> set[str]:
    return {
        node.name for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))) if isinstance(node, ast.ClassDef)
    }


def subclassed(path: Path, names: set[str]) -> list[str]:
    """``class(base)`` of every class in ``path`` whose base is one of ``names``, by name or as ``module.name``."""
    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ClassDef):
            for base in node.bases:
                name = base.id if isinstance(base, ast.Name) else base.attr if isinstance(base, ast.Attribute) else ""
                if name in names:
                    found.append(f"{node.name}({name})")
    return found


def test_the_checks_catch_what_they_look_for(tmp_path: Path) -> None:
    module = tmp_path / "view.py"
    module.write_text(
        "from framelab.score import writers\nfrom framelab.score.writers import HtmlWriter\n\n"
        'def tag(c):\n    return f\'<span class="{c}">\' + "</div>"\n\n'
        "class Page(HtmlWriter):\n    pass\n\nclass Other(writers.Writer, dict):\n    pass\n",
        encoding="utf-8",
    )
    assert markup_literals(module) == ["5: '<span class=\"'", "5: '</div>'"]
    assert subclassed(module, {"HtmlWriter", "Writer"}) == ["Page(HtmlWriter)", "Other(Writer)"]
    module.write_text(
        '"""Cut at each <TAB>, id <Body ID>; a < b."""\n\nclass Page(dict):\n    pass\n', encoding="utf-8"
    )
    assert markup_literals(module) == [] and subclassed(module, {"HtmlWriter", "Writer"}) == []


def test_markup_lives_in_template_files_only() -> None:
    assert len(DRAWING) > 5 and PACKAGE / "score" / "writers.py" in DRAWING
    found = {str(path.relative_to(REPO)): markup_literals(path) for path in DRAWING}
    assert {path: literals for path, literals in found.items() if literals} == {}
    templates = PACKAGE / "score" / TEMPLATES
    assert {p.name for p in templates.iterdir() if p.is_file()} >= {"page.html.j2", "article.html.j2", "page.css"}


def test_the_server_subclasses_no_writer() -> None:
    writers = _class_names(PACKAGE / "score" / "writers.py")
    assert {"Writer", "HtmlWriter"} <= writers
    found = {str(path.relative_to(REPO)): subclassed(path, writers) for path in (PACKAGE / "serve").rglob("*.py")}
    assert {path: classes for path, classes in found.items() if classes} == {}


def test_the_file_the_server_and_the_renderer_give_one_page(tmp_path: Path) -> None:
    results = [_article("one", (["Doubt"], ["Doubt"], [])), _article("two", (["Flag_Waving"], [], ["Doubt"]))]
    writer = HtmlWriter(tmp_path / "page.html", MODELS)
    for result in results:
        writer.write(result)
    writer.close()
    written = (tmp_path / "page.html").read_text(encoding="utf-8")
    assert html_page(results, MODELS) == render_html(results, MODELS) == written
    # The stylesheet is the template's, whole; each article is one section, in order.
    assert f"<style>\n{STYLE}</style>" in written
    assert re.findall(r'<section class="article"><h2>([^<]*)</h2>', written) == ["one", "two"]


def test_the_templates_are_package_data() -> None:
    tomllib = pytest.importorskip("tomllib")  # Python 3.11 on
    project = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))
    patterns = project["tool"]["setuptools"]["package-data"]["framelab.score"]
    folder = PACKAGE / "score"
    files = [p.relative_to(folder) for p in (folder / TEMPLATES).rglob("*") if p.is_file()]
    assert files and all(any(f.match(pattern) for pattern in patterns) for f in files), (files, patterns)
    assert any(d.replace(" ", "").lower().startswith("jinja2>=3.1") for d in project["project"]["dependencies"])
