"""The package's imports go one way down the layers written in docs/architecture.md."""
import ast
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "hpcrbm"


def read_layers():
    """[(layer name, [module prefixes])] from the ```layers block of docs/architecture.md."""
    text = (ROOT / "docs" / "architecture.md").read_text()
    block = re.search(r"```layers\n(.*?)```", text, re.S).group(1)
    return [(name.strip(), prefixes.split()) for name, prefixes in
            (line.split(":", 1) for line in block.strip().splitlines())]


def module_name(path):
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def all_modules():
    return {module_name(p): p for p in PACKAGE.rglob("*.py")}


def unit_of(module):
    """The folder (or top-level module) a module belongs to: ``hpcrbm.X`` for every module under
    hpcrbm/X/ or hpcrbm/X.py; ``hpcrbm`` for the package's own __init__."""
    return ".".join(module.split(".")[:2])


def layer_of(module, layers):
    """Index of the layer that lists ``module``'s folder (:func:`unit_of`); None if none does."""
    unit = unit_of(module)
    return next((index for index, (_, units) in enumerate(layers) if unit in units), None)


def imported_modules(module, path, modules):
    """Every hpcrbm module that ``module`` imports (anywhere in the file)."""
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")
                anchor = anchor[:len(anchor) - node.level + 1]
                base = ".".join(anchor + ([base] if base else []))
            names = [f"{base}.{a.name}" if f"{base}.{a.name}" in modules else base for a in node.names]
        else:
            continue
        found.update(n for n in names if n == "hpcrbm" or n.startswith("hpcrbm."))
    return found


def test_every_module_has_a_layer():
    layers = read_layers()
    missing = [m for m in all_modules() if layer_of(m, layers) is None]
    assert not missing, f"modules in no layer of docs/architecture.md: {missing}"


def test_no_module_imports_from_a_layer_above_its_own():
    layers = read_layers()
    modules = all_modules()
    upward = []
    for module, path in sorted(modules.items()):
        own = layer_of(module, layers)
        for target in sorted(imported_modules(module, path, modules)):
            there = layer_of(target, layers)
            if there is not None and there > own:
                upward.append(f"{module} ({layers[own][0]}) imports {target} ({layers[there][0]})")
    assert not upward, "imports from a layer above:\n" + "\n".join(upward)


def test_the_check_sees_an_upward_import(tmp_path):
    """The walker resolves relative imports, also inside functions (the check can fail)."""
    fake = tmp_path / "hpcrbm" / "io"
    fake.mkdir(parents=True)
    source = fake / "x.py"
    source.write_text("def f():\n    from ..pipeline import run_all\n    from . import files\n")
    found = imported_modules("hpcrbm.io.x", source, {"hpcrbm.io.files", "hpcrbm.pipeline"})
    assert found == {"hpcrbm.pipeline", "hpcrbm.io.files"}
    layers = read_layers()
    assert layer_of("hpcrbm.pipeline", layers) > layer_of("hpcrbm.io.x", layers)
