"""io/files.py owns every dataset path: docs/io.md's tables are its LAYOUT, and no module of the
package outside io/files.py spells a dataset or group path of a run file or checkpoint."""
import ast
import re
from pathlib import Path

import pytest

from hpcrbm.io import files

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "hpcrbm"
OWNER = PACKAGE / "io" / "files.py"

# calls whose first positional argument is a dataset path (h5py, io/hdf5.py's ParallelFile/GridFile)
PATH_FIRST = {"create", "create_global", "create_dataset", "create_group", "require_dataset", "require_group",
              "write_global", "write_points", "write_blocks"}
PATH_SECOND = {"read_points"}  # read_points(source, name, ...)


def _leading_text(node):
    """The text of a str constant, or the literal text an f-string starts with (None otherwise)."""
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return node.value
    if isinstance(node, ast.JoinedStr) and node.values and isinstance(node.values[0], ast.Constant):
        return node.values[0].value
    return None


def _path_arguments(tree):
    """The nodes passed where a dataset path goes (see PATH_FIRST, PATH_SECOND)."""
    for call in ast.walk(tree):
        if isinstance(call, ast.Call):
            name = call.func.attr if isinstance(call.func, ast.Attribute) else getattr(call.func, "id", None)
            if name in PATH_FIRST and call.args:
                yield call.args[0]
            elif name in PATH_SECOND and len(call.args) > 1:
                yield call.args[1]


def _docstrings(tree):
    return {id(node.body[0].value) for node in ast.walk(tree)
            if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef))
            and node.body and isinstance(node.body[0], ast.Expr) and isinstance(node.body[0].value, ast.Constant)}


def path_literals(source, groups, datasets):
    """[(line, text)] of the string literals of ``source`` that spell a dataset path: text that
    starts with a top-level group and "/" (e.g. "observables/energy", f"flow/{key}"), anywhere but
    in a docstring, and a top-level dataset's name (e.g. "configs") where a dataset path goes.
    Words and file names are no paths: text with a blank, a "*" or a ".py"/".h5" ending is left alone."""
    tree = ast.parse(source)
    skip = _docstrings(tree)
    found = []
    for node in ast.walk(tree):
        text = _leading_text(node)
        if text is None or id(node) in skip or re.search(r"\s|\*|\.(py|h5|cu)$", text):
            continue
        if "/" in text and text.split("/")[0] in groups:
            found.append((node.lineno, text))
    for node in _path_arguments(tree):
        text = _leading_text(node)
        if text is not None and (text in datasets or text in groups):
            found.append((node.lineno, text))
    return sorted(set(found))


def test_the_checker_finds_paths_and_leaves_words():
    groups, datasets = files.top_level_names()
    bad = '''
h5["observables/energy"]
f.create_global("temperatures", x)
x = f"flow/{key}/{mode}"
read_points(path, "configs", points, shape)
h5.create_group("current")
'''
    assert [t for _, t in path_literals(bad, groups, datasets)] == [
        "observables/energy", "temperatures", "flow/", "configs", "current"]
    good = '''
"""Docstring: flow/{key}/{mode}/NAME."""
mc["temperatures"]
here.glob("rbm/kernels/*.py")
stage = "flow"
message = "flow/x missing"
f.create(files.observable("energy"), shape, dtype)
'''
    assert path_literals(good, groups, datasets) == []


def test_no_dataset_path_outside_io_files():
    groups, datasets = files.top_level_names()
    assert {"observables", "summary", "tempering", "rbm", "controls", "thermometer", "starts", "flow",
            "fixed_points", "rg", "history", "snapshots", "finished", "current"} <= groups
    assert {"temperatures", "fields", "configs", "spins", "done"} <= datasets
    found = [f"{path.relative_to(ROOT)}:{line}: {text!r}" for path in sorted(PACKAGE.rglob("*.py")) if path != OWNER
             for line, text in path_literals(path.read_text(), groups, datasets)]
    assert not found, "dataset paths belong in hpcrbm/io/files.py:\n" + "\n".join(found)


@pytest.mark.parametrize("name", list(files.LAYOUT))
def test_docs_io_shows_the_layout(name):
    """docs/io.md holds files.layout_markdown(name) for every file of LAYOUT, verbatim."""
    text = (ROOT / "docs" / "io.md").read_text()
    table = files.layout_markdown(name)
    assert table in text, f"docs/io.md: the table of {name} is not files.layout_markdown({name!r}):\n{table}"


def test_every_documented_table_of_datasets_is_one_of_the_layout():
    """No hand-written dataset table is left beside the generated ones."""
    text = (ROOT / "docs" / "io.md").read_text()
    tables = re.findall(r"^\| dataset \|.*?(?=\n\n|\Z)", text, re.M | re.S)
    assert sorted(tables) == sorted(files.layout_markdown(n) for n in files.LAYOUT)


def test_layout_agrees_with_what_the_writers_create(tmp_path):
    """Every dataset path the writers of files.py declare required is described by LAYOUT."""
    from hpcrbm.config import loads

    cfg = loads((ROOT / "configs" / "demo.toml").read_text())
    patterns = {name: [_pattern(d.path) for d in entries] for name, entries in files.LAYOUT.items()}
    for name, required in ((files.SAMPLES, files.samples_required(cfg)), (files.RBM, files.rbm_required(cfg)),
                           (files.THERMOMETER, files.thermometer_required(cfg)),
                           (files.FLOW, files.flow_required(cfg)), (files.ANALYSIS, files.analysis_required(cfg))):
        for path in required:
            assert any(p.fullmatch(path) for p in patterns[name]), f"{name}: /{path} is not in files.LAYOUT"


def _pattern(path):
    """A regex of a LAYOUT path: {a, b} alternatives, {placeholder}s and NAME match any name, [x] optional."""
    out, i = "", 0
    while i < len(path):
        ch = path[i]
        if ch == "{":
            depth, j = 1, i + 1
            while depth:
                depth += {"{": 1, "}": -1}.get(path[j], 0)
                j += 1
            inner = path[i + 1:j - 1]
            out += "(?:" + "|".join(_pattern(a).pattern for a in _split(inner)) + ")" if ", " in inner else r"[^/]+"
            i = j
        elif ch == "[":
            j = path.index("]", i)
            out += "(?:" + _pattern(path[i + 1:j]).pattern + ")?"
            i = j + 1
        elif path.startswith("NAME", i):
            out += r"[^/]+"
            i += 4
        else:
            out += re.escape(ch)
            i += 1
    return re.compile(out)


def _split(inner):
    """"a, b{c, d}, e" -> ["a", "b{c, d}", "e"] (commas at the top level only)."""
    parts, depth, start = [], 0, 0
    for k, ch in enumerate(inner):
        depth += {"{": 1, "}": -1}.get(ch, 0)
        if ch == "," and depth == 0:
            parts.append(inner[start:k].strip())
            start = k + 1
    return parts + [inner[start:].strip()]
