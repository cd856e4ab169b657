"""Sphinx configuration for sklearn_deepprune.

Build with ``make -C docs html`` (warnings are errors). The gallery executes
every ``examples/plot_*.py`` script; no network access is needed (no
intersphinx).
"""

from __future__ import annotations

import importlib
import os
import re
import sys
from pathlib import Path

DOCS = Path(__file__).resolve().parent
REPO = DOCS.parent
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(DOCS / "sphinxext"))

# memelite compiles with numba on first use; keep the compiled code between builds.
os.environ.setdefault("NUMBA_CACHE_DIR", str(REPO / ".numba_cache"))
os.environ.setdefault("MPLBACKEND", "Agg")

import sklearn_deepprune  # noqa: E402

# -- Project -----------------------------------------------------------------

project = "sklearn_deepprune"
author = "the sklearn_deepprune developers"
copyright = "2025, the sklearn_deepprune developers"  # noqa: A001
version = release = sklearn_deepprune.__version__

# -- General -----------------------------------------------------------------

extensions = [
    "sphinx.ext.autodoc",
    "sphinx.ext.autosummary",
    "numpydoc",
    "sphinx_gallery.gen_gallery",
]

templates_path = ["_templates"]
exclude_patterns = ["_build", "Thumbs.db", ".DS_Store", "auto_examples/*.ipynb"]
root_doc = "index"
default_role = "literal"
nitpicky = False

autosummary_generate = True
autosummary_imported_members = True
autodoc_typehints = "none"

# numpydoc renders the Parameters/Returns sections; class members get their own
# rows from the autosummary class template, not from numpydoc.
numpydoc_show_class_members = False
numpydoc_class_members_toctree = False
numpydoc_xref_param_type = False

# -- HTML --------------------------------------------------------------------

html_theme = "pydata_sphinx_theme"
html_title = f"sklearn_deepprune {release}"
html_static_path = ["_static"]
html_theme_options = {
    "navigation_with_keys": False,
    "show_toc_level": 2,
    "secondary_sidebar_items": ["page-toc", "sourcelink"],
}
html_sidebars = {"index": [], "getting_started": [], "user_guide": []}
html_show_sourcelink = True

# -- Gallery -----------------------------------------------------------------

sphinx_gallery_conf = {
    "examples_dirs": ["../examples"],
    "gallery_dirs": ["auto_examples"],
    # Every plot_*.py example is executed: this is how CI keeps them working.
    "filename_pattern": r"/plot_",
    "ignore_pattern": r"__init__\.py|/_",
    "within_subsection_order": "FileNameSortKey",
    "backreferences_dir": "gen_modules/backreferences",
    "doc_module": ("sklearn_deepprune",),
    "remove_config_comments": True,
    "download_all_examples": False,
    "min_reported_time": 5,
    "show_memory": False,
    # The package returns figures without pyplot; see sphinxext/gallery_scrapers.py.
    "image_scrapers": ("gallery_scrapers.returned_figures", "matplotlib"),
    "abort_on_example_error": False,
    "only_warn_on_example_error": False,
}


# -- API completeness --------------------------------------------------------

# Modules whose public names the API page must list: the package namespaces
# (their ``__all__``) and the core modules documented name by name.
API_MODULES = (
    "sklearn_deepprune",
    "sklearn_deepprune.datasets",
    "sklearn_deepprune.motifs",
    "sklearn_deepprune.experiments",
    "sklearn_deepprune.pruning",
    "sklearn_deepprune.network",
    "sklearn_deepprune.variants",
    "sklearn_deepprune.tracks",
)


def _public_names(module) -> list[str]:
    if hasattr(module, "__all__"):
        return list(module.__all__)
    return [
        name
        for name, value in vars(module).items()
        if not name.startswith("_")
        and getattr(value, "__module__", module.__name__) == module.__name__
        and not isinstance(value, type(module))
        and (callable(value) or name.isupper())
    ]


def _listed_where_defined(module, name, listed) -> bool:
    """Whether a re-exported name is listed under the submodule that defines it.

    Constants are documented where their ``#:`` comment is (a re-exported
    ``str`` would otherwise show the docstring of ``str``).
    """
    value = getattr(module, name)
    for other_name, names in listed.items():
        if other_name.startswith(module.__name__ + ".") and name in names:
            other = importlib.import_module(other_name)
            if getattr(other, name, None) is value:
                return True
    return False


def missing_api_names() -> dict[str, list[str]]:
    """The public names of each API module that docs/api.rst does not list.

    Also run by the fast tests (tests/test_docs_api.py), so that a name added
    to an ``__all__`` without its API entry fails there, not only in the
    docs build. A module that cannot be imported maps to ``["<import error>"]``.
    """
    text = (DOCS / "api.rst").read_text(encoding="utf-8")
    sections = re.split(r"^\.\. currentmodule:: *(\S+) *$", text, flags=re.M)
    listed: dict[str, set[str]] = {}
    for module_name, body in zip(sections[1::2], sections[2::2], strict=True):
        listed.setdefault(module_name, set()).update(
            re.findall(r"^ {3,}([A-Za-z_][\w.]*) *$", body, flags=re.M)
        )
    out = {}
    for module_name in API_MODULES:
        try:
            module = importlib.import_module(module_name)
        except ImportError as exc:
            out[module_name] = [f"<import error: {exc}>"]
            continue
        missing = sorted(
            name
            for name in set(_public_names(module)) - listed.get(module_name, set())
            if not _listed_where_defined(module, name, listed)
        )
        if missing:
            out[module_name] = missing
    return out


def _check_api_page(app):
    """Warn (an error under -W) when a public name is missing from api.rst."""
    from sphinx.util import logging

    logger = logging.getLogger(__name__)
    for module_name, missing in missing_api_names().items():
        logger.warning(
            "API page: public names of %s missing from docs/api.rst: %s",
            module_name,
            ", ".join(missing),
        )


def _write_cli_help(app):
    """Write ``deepprune --help`` and each command's help for the user guide."""
    import argparse

    from sklearn_deepprune.cli import build_parser

    os.environ["COLUMNS"] = "79"  # argparse wraps help to the terminal width
    parser = build_parser()
    texts = [parser.format_help()]
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            texts += [sub.format_help() for sub in action.choices.values()]
    out = DOCS / "generated" / "cli_help.txt"
    out.parent.mkdir(exist_ok=True)
    text = ("\n" + "-" * 79 + "\n\n").join(texts)
    if not out.is_file() or out.read_text(encoding="utf-8") != text:
        out.write_text(text, encoding="utf-8")


def _skip_metadata_requests(app, what, name, obj, skip, options):
    """Skip scikit-learn's generated ``set_*_request`` methods (metadata routing).

    Their docstrings point into scikit-learn's own documentation, which is not
    linked here; they are documented there.
    """
    if re.fullmatch(r"set_\w+_request", name):
        return True
    return None


def setup(app):
    app.connect("autodoc-skip-member", _skip_metadata_requests)
    app.connect("builder-inited", _check_api_page)
    app.connect("builder-inited", _write_cli_help)
