"""The private scikit-learn helpers the estimators use, and the range that pins them.

``encoding.py`` and ``classifier.py`` use ``sklearn.base._fit_context`` and
``sklearn.utils._param_validation``; ``pyproject.toml`` pins scikit-learn below
the first release not tested with them. When a release moves them, this test
says so in one line instead of an ImportError deep in the package.
"""

import re
from pathlib import Path

import sklearn
import tomllib
from packaging.version import Version


def test_private_sklearn_helpers_are_where_the_package_expects_them():
    missing = []
    try:
        from sklearn.base import _fit_context  # noqa: F401
    except ImportError:
        missing.append("sklearn.base._fit_context")
    try:
        from sklearn.utils._param_validation import Interval, StrOptions  # noqa: F401
    except ImportError:
        missing.append("sklearn.utils._param_validation.Interval/StrOptions")
    assert not missing, (
        f"scikit-learn {sklearn.__version__} moved {', '.join(missing)}: adapt encoding.py and "
        "classifier.py, then widen the scikit-learn range in pyproject.toml"
    )


def test_installed_sklearn_is_in_the_pinned_range():
    project = tomllib.loads((Path(__file__).parents[1] / "pyproject.toml").read_text())
    (spec,) = [d for d in project["project"]["dependencies"] if d.startswith("scikit-learn")]
    low, high = re.fullmatch(r"scikit-learn>=([\d.]+),<([\d.]+)", spec.split()[0]).groups()
    assert Version(low) <= Version(sklearn.__version__) < Version(high), (
        f"scikit-learn {sklearn.__version__} is outside the tested range {spec}"
    )
