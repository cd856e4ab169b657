"""The API page lists every public name (the docs build checks the same, later)."""

import importlib.util
from pathlib import Path

CONF = Path(__file__).resolve().parents[1] / "docs" / "conf.py"


def test_api_page_lists_every_public_name():
    spec = importlib.util.spec_from_file_location("_docs_conf", CONF)
    conf = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(conf)
    assert conf.missing_api_names() == {}
