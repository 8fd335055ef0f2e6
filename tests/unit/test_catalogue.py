"""The one message catalogue (STYLE.md: "Chinese labels live in one message catalogue, not scattered
through code"): no Chinese string literal in the code outside states/messages.py; every catalogue key the
code names literally exists; the catalogue repeats no key."""

from __future__ import annotations

import ast
import re
from collections import Counter
from pathlib import Path

from states.messages import CATALOGUE

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ("services", "states", "forms", "flows")
CATALOGUE_FILE = "states/messages.py"
# Han ideographs, CJK punctuation (、。「」〔〕…) and full-width forms (：；（）); not U+3000, a space.
CJK = re.compile(r"[\u3001-\u303f\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\uff01-\uffef]")
# Where Chinese in a string literal is not the code speaking to people (docstrings, and comments, which
# are not literals, are skipped anywhere: seed quotations there are citations, not UI text):
EXEMPT = {
    # the demo data set's content: names of demo projects, organisations and people are data, like a
    # fixture (the text it composes for people, "演示数据 · demo data", is the catalogue's)
    "services/demo.py": "demo content",
    # Alembic migrations are history: they run as they were written
    "services/store/migrations/": "migrations",
}
# (Profile TOML files are not Python: their comments carry seed quotations and `name_zh` is a
# jurisdiction's own name, which is data.)


def _sources() -> dict[str, ast.Module]:
    found = {}
    for package in PACKAGES:
        for path in sorted((ROOT / package).rglob("*.py")):
            name = path.relative_to(ROOT).as_posix()
            found[name] = ast.parse(path.read_text(encoding="utf-8"), filename=name)
    return found


SOURCES = _sources()


def _docstrings(tree: ast.Module) -> set[int]:
    out = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Module | ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef) and node.body:
            first = node.body[0]
            if isinstance(first, ast.Expr) and isinstance(first.value, ast.Constant):
                out.add(id(first.value))
    return out


# keyword arguments that document an API (OpenAPI summaries and field descriptions): like docstrings, they
# speak to developers, and a Chinese term of art there (举报, 统一社会信用代码) is the precise name
DOCUMENTING = {"summary", "description", "title"}


def _api_docs(tree: ast.Module) -> set[int]:
    return {id(kw.value) for node in ast.walk(tree) if isinstance(node, ast.Call)
            for kw in node.keywords if kw.arg in DOCUMENTING and isinstance(kw.value, ast.Constant)}


def _chinese_literals(tree: ast.Module) -> list[ast.Constant]:
    """String literals (the literal parts of f-strings too) with Chinese in them, docstrings and API
    documentation aside."""
    skip = _docstrings(tree) | _api_docs(tree)
    return sorted((node for node in ast.walk(tree) if isinstance(node, ast.Constant) and isinstance(node.value, str)
                   and id(node) not in skip and CJK.search(node.value)),
                  key=lambda node: (node.lineno, node.col_offset))


def test_no_chinese_string_literal_outside_the_catalogue() -> None:
    found = [f"{name}:{node.lineno}: {node.value!r}" for name, tree in SOURCES.items()
             if name != CATALOGUE_FILE and not any(name.startswith(prefix) for prefix in EXEMPT)
             for node in _chinese_literals(tree)]
    assert not found, "Chinese text belongs in states/messages.py (label/text/reason):\n" + "\n".join(found)


def test_the_scan_sees_chinese_in_code() -> None:
    """The check above can fail: an f-string's Chinese part and a plain literal are both caught, a
    docstring and a full-width space are not."""
    tree = ast.parse('def f(x):\n    """文档。"""\n    return f"案件 #{x}", "、", "\\u3000", "Case"\n')
    assert [node.value for node in _chinese_literals(tree)] == ["案件 #", "、"]


def _literal(node: ast.expr | None) -> str | None:
    return node.value if isinstance(node, ast.Constant) and isinstance(node.value, str) else None


def _keys_named(tree: ast.Module) -> list[tuple[int, str]]:
    """Catalogue keys named by a literal: label("x.y"), text("x.y"), reason("code") → reason.code,
    joined(..., "sep.x"), NotFound.of("noun") → noun.noun, BilingualError.of("key") → form.key,
    CATALOGUE["x.y"] and CATALOGUE.get("x.y")."""
    out = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Subscript) and isinstance(node.value, ast.Name) and node.value.id == "CATALOGUE":
            key = _literal(node.slice)
            if key:
                out.append((node.lineno, key))
        if not isinstance(node, ast.Call) or not node.args:
            continue
        func, first = node.func, _literal(node.args[0])
        if isinstance(func, ast.Name) and first:
            if func.id in ("label", "text"):
                out.append((node.lineno, first))
            elif func.id == "reason":
                out.append((node.lineno, f"reason.{first}"))
        if isinstance(func, ast.Name) and func.id == "joined" and len(node.args) > 1 and _literal(node.args[1]):
            out.append((node.lineno, _literal(node.args[1])))
        if isinstance(func, ast.Attribute) and isinstance(func.value, ast.Name) and first:
            owner = func.value.id
            if owner == "CATALOGUE" and func.attr == "get":
                out.append((node.lineno, first))
            elif owner == "NotFound" and func.attr == "of" and len(node.args) == 1:
                out.append((node.lineno, f"noun.{first}"))
            elif owner == "BilingualError" and func.attr == "of":
                out.append((node.lineno, f"form.{first}"))
    return out


def test_every_catalogue_key_the_code_names_exists() -> None:
    missing = [f"{name}:{line}: {key}" for name, tree in SOURCES.items() for line, key in _keys_named(tree)
               if key not in CATALOGUE]
    assert not missing, "not in the catalogue:\n" + "\n".join(missing)


def test_the_key_scan_reads_every_helper() -> None:
    tree = ast.parse('label("a.b"); text("c.d", n=1); reason("e"); reason("f.g", field="x"); joined(x, "sep.h")\n'
                     'NotFound.of("i"); NotFound.of("案件", "Case"); BilingualError.of("j"); CATALOGUE["k.l"]\n'
                     'CATALOGUE.get("m.n"); label(f"state.{s}")\n')
    assert sorted(key for _, key in _keys_named(tree)) == [
        "a.b", "c.d", "form.j", "k.l", "m.n", "noun.i", "reason.e", "reason.f.g", "sep.h"]


def test_the_catalogue_repeats_no_key() -> None:
    """A repeated key in a dict literal silently drops the first entry (ruff's F601 says so too)."""
    tree = SOURCES[CATALOGUE_FILE]
    repeated = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Dict):
            counts = Counter(_literal(k) for k in node.keys if _literal(k) is not None)
            repeated += [f"line {node.lineno}: {key}" for key, n in counts.items() if n > 1]
    assert not repeated, repeated


def test_every_entry_is_said_in_both_languages() -> None:
    for key, entry in CATALOGUE.items():
        assert re.fullmatch(r"[a-z_]+\.[A-Za-z0-9_.]+", key), key
        assert isinstance(entry, tuple) and len(entry) == 2 and all(isinstance(s, str) for s in entry), key
        assert entry[0], key
