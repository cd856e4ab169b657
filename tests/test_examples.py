"""Checks of the gallery scripts in examples/ that need no training.

The documentation build (``make -C docs html``) *executes* every example: that
is where CI runs them, once. These tests only make sure, in seconds, that each
script compiles, has a gallery header, is picked up by the gallery build, and
imports names that exist, so an API rename breaks here first. To also run the
scripts themselves here, set ``DEEPPRUNE_RUN_EXAMPLES=1``.
"""

from __future__ import annotations

import ast
import importlib
import importlib.util
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

REPOSITORY = Path(__file__).resolve().parent.parent
EXAMPLES = sorted((REPOSITORY / "examples").glob("*.py"))
# Imports an example may need that are optional (the extras).
OPTIONAL = {"distributed", "dask", "pandas", "matplotlib", "memelite", "logomaker", "pyjaspar"}


def _tree(path: Path) -> ast.Module:
    return ast.parse(path.read_text(encoding="utf-8"), filename=str(path))


def _gallery_conf() -> dict:
    for node in _tree(REPOSITORY / "docs" / "conf.py").body:
        if isinstance(node, ast.Assign) and any(
            isinstance(target, ast.Name) and target.id == "sphinx_gallery_conf"
            for target in node.targets
        ):
            return ast.literal_eval(node.value)
    raise AssertionError("docs/conf.py defines no sphinx_gallery_conf")


def test_examples_exist():
    names = {path.name for path in EXAMPLES}
    assert "plot_quickstart.py" in names  # the README's demo command runs it
    assert len(names) >= 6


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda path: path.name)
def test_example_compiles_with_gallery_header(path):
    compile(path.read_text(encoding="utf-8"), str(path), "exec")
    docstring = ast.get_docstring(_tree(path), clean=False)
    assert docstring, f"{path.name} has no docstring header"
    lines = docstring.strip("\n").splitlines()
    assert len(lines) >= 3, f"{path.name}: the header needs a title and a description"
    title, underline = lines[0], lines[1]
    assert set(underline) == {"="} and len(underline) >= len(title), (
        f"{path.name}: the first line must be a title underlined with '='"
    )


def test_gallery_build_runs_every_example():
    conf = _gallery_conf()
    pattern = re.compile(conf["filename_pattern"])
    ignore = re.compile(conf["ignore_pattern"])
    for path in EXAMPLES:
        name = "/" + path.name
        assert pattern.search(name) and not ignore.search(name), (
            f"the docs build would not execute {path.name}"
        )


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda path: path.name)
def test_example_imports_exist(path):
    for node in ast.walk(_tree(path)):
        if isinstance(node, ast.Import):
            modules = [(alias.name, []) for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            modules = [(node.module, [alias.name for alias in node.names])]
        else:
            continue
        for module_name, names in modules:
            if module_name.split(".")[0] in OPTIONAL:
                pytest.importorskip(module_name)
            module = importlib.import_module(module_name)
            for name in names:
                assert hasattr(module, name) or importlib.util.find_spec(
                    f"{module_name}.{name}"
                ), f"{path.name}: {module_name} has no {name}"


@pytest.mark.slow
@pytest.mark.skipif(
    not os.environ.get("DEEPPRUNE_RUN_EXAMPLES"),
    reason="the docs build runs the examples; set DEEPPRUNE_RUN_EXAMPLES=1 to run them here",
)
@pytest.mark.parametrize("path", EXAMPLES, ids=lambda path: path.name)
def test_example_runs(path, tmp_path):
    env = dict(os.environ, MPLBACKEND="Agg")
    env.setdefault("NUMBA_CACHE_DIR", str(REPOSITORY / ".numba_cache"))
    subprocess.run([sys.executable, str(path)], cwd=tmp_path, env=env, check=True, timeout=600)
