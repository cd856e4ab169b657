"""Self-contained HTML pages: one per fitted model, one per sweep report.

A fit's page (:func:`write_fit_report`) answers three questions on one page
that opens offline: is the model good (test ROC and PR curves, the AUC of
every pruning stage), what did it find (one row per kernel: logos, weight,
importance, the loss change when it alone is removed, how often it fires,
where, and its best JASPAR matches) and can the fit be reproduced (settings,
versions, command line, random state, timings). The numbers that need the
data (the split's counts, the test curves, the per-kernel statistics) are
computed once at fit time by :func:`fit_report_data` and kept in
``metrics.json``; everything else is read from the model file and the motifs
written beside it, so that ``deepprune report MODEL_DIR`` can rebuild the page
from the folder alone.

Images are inline PNG data URIs drawn with matplotlib's Agg canvas; the page
has no script and links to nothing. A folder with missing or corrupt pieces
still gets a page: what could not be read is listed at the top, naming the
file, and the page is marked incomplete (``data-complete="false"`` on the
``<html>`` element and "(incomplete)" in the title).
"""

from __future__ import annotations

import base64
import datetime
import html
import io
import json
import math
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from sklearn_deepprune._guards import write_atomic

#: File name of the page in a fit folder and in a sweep's report folder.
REPORT_FILE = "report.html"

# Points kept of each test curve (ROC, PR) in metrics.json.
_CURVE_POINTS = 300
# Bins of the histogram of best-site positions.
_POSITION_BINS = 20
# Figures are rasterised at this resolution (small pages).
_DPI = 72

_NEGATIVES = {
    "shuffle": "dinucleotide-shuffled copies of the peaks",
    "flank": "windows flanking the peaks",
    "background": "random genomic windows matched in GC content",
}

_STYLE = """
body{font-family:system-ui,-apple-system,Segoe UI,Helvetica,Arial,sans-serif;margin:1.5em auto;
max-width:1500px;padding:0 1em;color:#222;line-height:1.4}
h1{font-size:1.6em;margin-bottom:.2em}h2{border-bottom:2px solid #ddd;padding-bottom:.2em;
margin-top:1.6em}table{border-collapse:collapse;margin:.6em 0}th,td{border:1px solid #ccc;
padding:.25em .5em;text-align:left;vertical-align:top}th{background:#f3f3f3}
td.num{text-align:right;font-variant-numeric:tabular-nums}.reading{font-size:1.15em;
background:#eef6ee;border-left:4px solid #4a4;padding:.4em .8em}.incomplete{background:#fdecea;
border:2px solid #c33;padding:.4em 1em;margin:1em 0}code,pre{background:#f6f6f6;padding:.1em .3em}
pre{padding:.5em;white-space:pre-wrap;word-break:break-all}img{display:block;max-width:100%}
td img{max-width:none}.wide{overflow-x:auto}.matches{display:flex;flex-direction:column;gap:.4em}
.match{font-size:.9em}
.small{color:#666;font-size:.9em}nav a{margin-right:1em}
"""


# -- the numbers computed at fit time ------------------------------------------


def _counts(y: np.ndarray, positive: Any) -> dict[str, int]:
    y = np.asarray(y) == positive
    return {"positives": int(y.sum()), "negatives": int((~y).sum())}


def _thin(*columns: np.ndarray, n: int = _CURVE_POINTS) -> list[list[float]]:
    """At most ``n`` evenly spaced points of the curve, its ends kept."""
    index = np.unique(np.linspace(0, len(columns[0]) - 1, min(n, len(columns[0]))).astype(int))
    return [[round(float(value), 5) for value in column[index]] for column in columns]


def _validation_part(classifier, y_train: np.ndarray):
    """Indices of the classifier's validation part of the training data, or None.

    The split is the one :meth:`DeepPruneClassifier.fit` made: the same seed
    drawn from an integer ``random_state``; ``None`` when that cannot be
    redone (no integer random state, or no validation part).
    """
    if not isinstance(classifier.random_state, (int, np.integer)):
        return None
    from sklearn.utils import check_random_state

    seed = int(check_random_state(classifier.random_state).randint(np.iinfo(np.int32).max))
    _, y_index = np.unique(y_train, return_inverse=True)
    _, valid = classifier._split(y_index, seed)
    return valid


def _loss_changes(classifier, X_valid: np.ndarray, y_valid: np.ndarray) -> list[float]:
    """Change in mean log loss when each kernel's contribution alone is replaced by its mean.

    A kernel's contribution to the logit is the sum over what the dense layer
    reads of it (its max score, and its mean score with ``pooling="max_avg"``)
    times their weights, as the pruning criteria see it.
    """
    from sklearn_deepprune.classifier import _batched
    from sklearn_deepprune.pruning import _binary_log_loss

    module = classifier.net_.module_
    features = _batched(module.features, X_valid).astype(np.float64)
    n_kernels = module.n_kernels
    weights = module.dense.weight.detach().cpu().numpy()[0].astype(np.float64)
    contributions = (
        features.reshape(len(features), -1, n_kernels) * weights.reshape(-1, n_kernels)
    ).sum(axis=1)
    bias = float(module.dense.bias.detach().cpu()[0])
    y = np.asarray(y_valid) == classifier.classes_[1]
    logits = bias + contributions.sum(axis=1)
    full = _binary_log_loss(logits[:, np.newaxis], y)[0]
    removed = _binary_log_loss(
        logits[:, np.newaxis] - (contributions - contributions.mean(axis=0)), y
    )
    return [float(change) for change in removed - full]


def _site_statistics(pipeline, X_test: Sequence[str], y_test: np.ndarray, n_kernels: int):
    """Per kernel: the fractions of test positives/negatives with a site, best-site positions."""
    from sklearn_deepprune.motifs import find_sites

    classifier = pipeline[-1]
    positive = np.asarray(y_test) == classifier.classes_[1]
    sites = find_sites(pipeline, list(X_test), threshold=0.5, sites="max")
    length = int(pipeline[:-1].transform(list(X_test[:1])).shape[2])
    edges = np.linspace(-length / 2, length / 2, _POSITION_BINS + 1)
    rows = []
    for k in range(n_kernels):
        mine = sites[sites["kernel"] == k]
        hit = np.zeros(len(positive), dtype=bool)
        hit[mine["sequence"].to_numpy()] = True
        centre = (mine["start"].to_numpy() + mine["end"].to_numpy()) / 2 - length / 2
        in_positive = positive[mine["sequence"].to_numpy()]
        rows.append(
            {
                "sites_positives": float(hit[positive].mean()) if positive.any() else None,
                "sites_negatives": float(hit[~positive].mean()) if (~positive).any() else None,
                "positions_positives": np.histogram(centre[in_positive], edges)[0].tolist(),
                "positions_negatives": np.histogram(centre[~in_positive], edges)[0].tolist(),
            }
        )
    return rows, [float(edge) for edge in edges]


def fit_report_data(
    pipeline,
    X_train: Sequence[str],
    y_train: Any,
    X_test: Sequence[str] | None,
    y_test: Any | None,
    settings: Mapping[str, Any] | None = None,
    command: str | None = None,
) -> dict[str, Any]:
    """The numbers of a fit's report page that need the data, for ``metrics.json``.

    Parameters
    ----------
    pipeline : Pipeline
        The fitted pipeline (an encoder, then a
        :class:`~sklearn_deepprune.DeepPruneClassifier`).
    X_train, y_train : sequence of str, array-like
        The data it was fitted on (its validation part is redone from the
        classifier's integer ``random_state``).
    X_test, y_test : sequence of str and array-like, or None
        The test part; ``None`` leaves out the curves and site statistics.
    settings : mapping or None, default=None
        The options of the run (e.g. ``vars(args)`` of ``deepprune fit``):
        ``data``, ``test``, ``genome``, ``negatives``, ``test_chromosomes``
        describe the data; all are listed on the page.
    command : str or None, default=None
        The command line that reproduces the run.

    Returns
    -------
    dict
        JSON-serialisable: ``data`` (the parts' counts of positives and
        negatives, sequence length, strand, sources, negatives), ``test``
        (ROC AUC, PR AUC and the two curves, thinned to 300 points),
        ``kernels`` (one dict per final kernel), ``position_edges``,
        ``settings``, ``command``, ``versions`` and ``created``.
    """
    from sklearn.metrics import average_precision_score, precision_recall_curve, roc_curve

    from sklearn_deepprune.persistence import _versions

    classifier = pipeline[-1]
    positive = classifier.classes_[1]
    settings = {
        key: value for key, value in dict(settings or {}).items() if key not in ("run", "func")
    }
    y_train = np.asarray(y_train)
    valid = _validation_part(classifier, y_train)
    parts = {}
    if valid is None:
        parts["train"] = _counts(y_train, positive)
    else:
        in_valid = np.zeros(len(y_train), dtype=bool)
        in_valid[valid] = True
        parts["train"] = _counts(y_train[~in_valid], positive)
        parts["validation"] = _counts(y_train[in_valid], positive)
    if y_test is not None:
        parts["test"] = _counts(y_test, positive)
    encoded_first = pipeline[:-1].transform(list(X_train[:1]))
    data = {
        "parts": parts,
        "length": int(encoded_first.shape[2]),
        "strand": classifier.strand_,
        "sources": {
            key: settings.get(key)
            for key in ("data", "test", "genome", "test_chromosomes")
            if settings.get(key) is not None
        },
        "negatives": _describe_negatives(settings),
    }
    n_kernels = len(classifier.dense_weight_)
    kernels: list[dict[str, Any]] = [
        {"kernel": k, "dense_weight": float(classifier.dense_weight_[k])} for k in range(n_kernels)
    ]
    if getattr(classifier, "pooling", "max") == "max_avg":
        for entry, weight in zip(kernels, classifier.dense_mean_weight_, strict=True):
            entry["dense_mean_weight"] = float(weight)
    last = classifier.pruning_history_[-1]
    if last.get("importance") is not None and last.get("kept") is not None:
        importance = np.asarray(last["importance"], dtype=float)
        ranks = len(importance) - np.argsort(np.argsort(importance, kind="stable"))
        for entry, index in zip(kernels, last["kept"], strict=True):
            entry["importance"] = float(importance[index])
            entry["importance_rank"] = int(ranks[index])
            entry["n_candidates"] = len(importance)
    X_train = list(X_train)
    if valid is not None:
        loss_part, loss_rows = "validation", valid
    else:
        loss_part, loss_rows = "training", np.arange(len(y_train))
    X_loss = pipeline[:-1].transform([X_train[i] for i in loss_rows])
    for entry, change in zip(
        kernels, _loss_changes(classifier, X_loss, y_train[loss_rows]), strict=True
    ):
        entry["loss_change"] = change
    data["loss_part"] = loss_part
    report: dict[str, Any] = {"data": data}
    y_true = None if y_test is None else np.asarray(y_test) == positive
    if y_true is not None and X_test is not None and 0 < y_true.sum() < len(y_true):
        scores = pipeline.decision_function(list(X_test))
        fpr, tpr, _ = roc_curve(y_true, scores)
        precision, recall, _ = precision_recall_curve(y_true, scores)
        report["test"] = {
            "roc_auc": float(pipeline.score(list(X_test), y_test)),
            "pr_auc": float(average_precision_score(y_true, scores)),
            "prevalence": float(y_true.mean()),
            "roc": dict(zip(("fpr", "tpr"), _thin(fpr, tpr), strict=True)),
            "pr": dict(zip(("recall", "precision"), _thin(recall, precision), strict=True)),
        }
        try:
            site_rows, edges = _site_statistics(pipeline, X_test, y_test, n_kernels)
        except ImportError:  # pandas missing: no site statistics
            pass
        else:
            for entry, row in zip(kernels, site_rows, strict=True):
                entry.update(row)
            report["position_edges"] = edges
    report["kernels"] = kernels
    report["settings"] = {key: _jsonable(value) for key, value in settings.items()}
    report["command"] = command
    report["versions"] = _versions()
    report["created"] = datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds")
    return report


def _jsonable(value: Any) -> Any:
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    if isinstance(value, (list, tuple)):
        return [_jsonable(item) for item in value]
    return str(value)


def _describe_negatives(settings: Mapping[str, Any]) -> str | None:
    data = str(settings.get("data") or "")
    if not data:
        return None
    if settings.get("genome"):
        choice = settings.get("negatives") or "shuffle"
        return _NEGATIVES.get(choice, f"the windows of {choice}")
    if data.startswith("simulated"):
        return "background sequences of the simulation, without planted motifs"
    name = Path(data).name.lower().removesuffix(".gz")
    if name.endswith((".fa", ".fasta", ".fna")):
        return "dinucleotide-shuffled copies of the peaks (one per peak)"
    return (
        "the sequences labelled 0 in the data; a part without any gets dinucleotide-shuffled "
        "copies of its peaks"
    )


# -- drawing -------------------------------------------------------------------


def _png(figure) -> str:
    """The figure as a PNG data URI (Agg canvas, no pyplot state)."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    FigureCanvasAgg(figure)
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=_DPI)
    return _data_uri(buffer.getvalue())


def _data_uri(png: bytes) -> str:
    return "data:image/png;base64," + base64.b64encode(png).decode("ascii")


def _img(uri: str, alt: str) -> str:
    return f'<img src="{uri}" alt="{html.escape(alt)}">'


def _new_figure(width: float, height: float, rows: int = 1, columns: int = 1):
    from matplotlib.figure import Figure

    figure = Figure(figsize=(width, height), layout="constrained")
    return figure, figure.subplots(rows, columns, squeeze=False)


def _curves_figure(test: Mapping[str, Any]) -> str:
    figure, axes = _new_figure(7.5, 3.2, 1, 2)
    roc, pr = axes[0]
    roc.plot(test["roc"]["fpr"], test["roc"]["tpr"], color="C0")
    roc.plot([0, 1], [0, 1], color="0.7", linestyle="--", linewidth=1)
    roc.set(xlabel="false positive rate", ylabel="true positive rate")
    roc.set_title(f"ROC, AUC {test['roc_auc']:.3f}", fontsize=10)
    pr.plot(test["pr"]["recall"], test["pr"]["precision"], color="C1")
    pr.axhline(test["prevalence"], color="0.7", linestyle="--", linewidth=1)
    pr.set(xlabel="recall", ylabel="precision", ylim=(0, 1.02))
    pr.set_title(f"precision-recall, AUC {test['pr_auc']:.3f}", fontsize=10)
    return _png(figure)


def _stages_figure(history: Sequence[Mapping[str, Any]]) -> str:
    figure, axes = _new_figure(6.0, 3.2)
    ax = axes[0, 0]
    kernels = [row["n_kernels"] for row in history]
    for key, label, color in (("valid_auc", "validation", "C2"), ("test_auc", "test", "C0")):
        points = [(row["n_kernels"], row[key]) for row in history if row.get(key) is not None]
        if points:
            ax.plot(*zip(*points, strict=True), marker="o", color=color, label=label)
    kept = history[-1]
    for key in ("test_auc", "valid_auc"):
        if kept.get(key) is not None:
            ax.plot(kept["n_kernels"], kept[key], marker="*", markersize=16, color="C3", zorder=3)
            ax.annotate(
                "kept", (kept["n_kernels"], kept[key]), xytext=(-34, 6),
                textcoords="offset points", color="C3",
            )  # fmt: skip
            break
    ax.set_xscale("log", base=2)
    ax.set_xticks(kernels, [str(k) for k in kernels])
    ax.invert_xaxis()
    ax.set(xlabel="kernels (pruned from left to right)", ylabel="ROC AUC")
    ax.legend(loc="lower left", fontsize=9)
    ax.grid(alpha=0.3)
    return _png(figure)


def _logo_image(pfm: np.ndarray, first: int, title: str) -> str:
    from sklearn_deepprune.motifs._logos import _draw_logo

    figure, axes = _new_figure(max(2.0, 0.22 * len(pfm) + 0.8), 1.3)
    _draw_logo(axes[0, 0], pfm, first)
    axes[0, 0].set_title(title, fontsize=8, loc="left")
    return _png(figure)


def _match_image(motif, match, target: np.ndarray) -> str:
    """The JASPAR logo over the kernel's, aligned by Tomtom's offset and orientation."""
    from sklearn_deepprune.motifs._logos import _draw_logo

    if match.orientation == "-":
        target = target[::-1, ::-1]
    low = min(motif.start, motif.start - match.offset)
    high = max(motif.start + motif.width, motif.start - match.offset + len(target))
    figure, axes = _new_figure(max(1.8, 0.15 * (high - low) + 0.7), 1.7, 2, 1)
    top, bottom = axes[:, 0]
    _draw_logo(top, target, motif.start - match.offset)
    _draw_logo(bottom, motif.pfm, motif.start)
    strand = " (reverse complement)" if match.orientation == "-" else ""
    top.set_title(f"{match.target_name} {match.target_id}{strand}", fontsize=8, loc="left")
    bottom.set_title("kernel", fontsize=8, loc="left")
    for ax in (top, bottom):
        ax.set_xlim(low - 0.5, high - 0.5)
        ax.set_ylabel("")
    return _png(figure)


def _positions_image(entry: Mapping[str, Any], edges: Sequence[float]) -> str:
    figure, axes = _new_figure(2.4, 1.3)
    ax = axes[0, 0]
    edges = np.asarray(edges)
    width = edges[1] - edges[0]
    ax.bar(edges[:-1], entry["positions_positives"], width=width, align="edge", color="C0")
    ax.step(
        edges[:-1], entry["positions_negatives"], where="post", color="C3", linewidth=1
    )  # the negatives' sites, as an outline
    ax.axvline(0, color="0.5", linewidth=0.8)
    ax.set_xlabel("best site - centre (bp)", fontsize=7)
    ax.tick_params(labelsize=7)
    for side in ("top", "right"):
        ax.spines[side].set_visible(False)
    return _png(figure)


# -- reading a fit folder ------------------------------------------------------


class _Problems(list):
    """What could not be read or drawn, each naming its file or section."""

    def run(self, where: str, function, *args, **kwargs):
        """``function(*args, **kwargs)``, or None with the failure noted under ``where``."""
        try:
            return function(*args, **kwargs)
        except ImportError as exc:
            self.append(f"{where}: needs an optional package ({exc})")
        except Exception as exc:  # noqa: BLE001 - any failure becomes a note on the page
            message = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
            self.append(f"{where}: {type(exc).__name__}: {message}".rstrip(": "))
        return None


def _read_metrics(path: Path) -> dict:
    if not path.is_file():
        raise FileNotFoundError(f"{path} is missing")
    try:
        metrics = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise ValueError(f"{path}, line {exc.lineno}: not valid JSON ({exc.msg})") from None
    except UnicodeDecodeError:
        raise ValueError(f"{path} is not a text file") from None
    if not isinstance(metrics, dict):
        raise ValueError(f"{path} holds a {type(metrics).__name__}, not a JSON object")
    return metrics


def _read_model(path: Path):
    from sklearn_deepprune.persistence import load_model

    if not path.is_file():
        raise FileNotFoundError(f"{path} is missing")
    return load_model(path)


def _read_motifs(path: Path):
    from sklearn_deepprune.motifs import read_meme

    if not path.is_file():
        raise FileNotFoundError(f"{path} is missing")
    return read_meme(path)


def _trimmed(motif):
    from sklearn_deepprune.motifs import trim

    try:
        return trim(motif)
    except ValueError:  # nothing informative: keep it whole
        return motif


# -- the page ------------------------------------------------------------------


def _cell(value: Any, digits: int = 3) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "<td>&ndash;</td>"
    if isinstance(value, float):
        return f'<td class="num">{value:.{digits}g}</td>'
    if isinstance(value, int) and not isinstance(value, bool):
        return f'<td class="num">{value}</td>'
    return f"<td>{html.escape(str(value))}</td>"


def _table(header: Sequence[str], rows: Sequence[Sequence[Any]], table_id: str = "") -> str:
    ident = f' id="{table_id}"' if table_id else ""
    head = "".join(f"<th>{html.escape(name)}</th>" for name in header)
    body = "".join("<tr>" + "".join(_cell(value) for value in row) + "</tr>" for row in rows)
    return f"<table{ident}><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def _page(title: str, sections: Sequence[str], problems: Sequence[str]) -> str:
    complete = not problems
    if not complete:
        items = "".join(f"<li>{html.escape(problem)}</li>" for problem in problems)
        banner = (
            '<div class="incomplete" id="incomplete"><strong>This report is incomplete.</strong> '
            f"What could not be read or drawn:<ul>{items}</ul></div>"
        )
        title = f"{title} (incomplete)"
    else:
        banner = ""
    return (
        f'<!DOCTYPE html>\n<html lang="en" data-complete="{str(complete).lower()}">\n<head>'
        '<meta charset="utf-8"><meta name="viewport" content="width=device-width, '
        f'initial-scale=1"><title>{html.escape(title)}</title><style>{_STYLE}</style></head>\n'
        f"<body><h1>{html.escape(title)}</h1>{banner}\n"
        + "\n".join(sections)
        + "\n</body>\n</html>\n"
    )


def _data_section(metrics: Mapping[str, Any], report: Mapping[str, Any]) -> str:
    data = report.get("data", {})
    out = ['<section id="data"><h2>The data</h2>']
    sources = data.get("sources") or ({"data": metrics["data"]} if "data" in metrics else {})
    if sources:
        items = "".join(
            f"<li>{html.escape(key)}: <code>{html.escape(str(value))}</code></li>"
            for key, value in sources.items()
        )
        out.append(f"<p>Source files:</p><ul>{items}</ul>")
    parts = data.get("parts")
    if parts:
        rows = []
        for name, counts in parts.items():
            total = counts["positives"] + counts["negatives"]
            rows.append([name, counts["positives"], counts["negatives"], total])
        out.append(_table(["part", "positives", "negatives", "total"], rows, "parts"))
    else:
        rows = [["train", metrics.get("n_train")], ["test", metrics.get("n_test")]]
        out.append(_table(["part", "sequences"], rows, "parts"))
    facts = []
    if data.get("length") is not None:
        facts.append(f"Sequence length: {data['length']} bp.")
    strand = data.get("strand", metrics.get("strand"))
    if strand is not None:
        reads = "both strands" if strand == "both" else "the forward strand only"
        facts.append(f"Strand: {html.escape(str(strand))} (the kernels read {reads}).")
    if data.get("negatives"):
        facts.append(f"Negatives: {html.escape(data['negatives'])}.")
    if metrics.get("test_part"):
        how = str(metrics["test_part"]).removeprefix("test part: ")
        facts.append(f"How the test part was chosen: {html.escape(how)}.")
    if parts and "validation" in parts:
        facts.append(
            "Validation part: drawn from the training data by the classifier "
            "(early stopping and the ablation and refit criteria use it)."
        )
    out.append("".join(f"<p>{fact}</p>" for fact in facts))
    out.append("</section>")
    return "\n".join(out)


def _reading(history: Sequence[Mapping[str, Any]]) -> str | None:
    """A plain-words line: how much of the widest model's AUC above chance is kept."""
    rows = [row for row in history if row.get("test_auc") is not None]
    key = "test"
    if len(rows) < 2:
        rows = [row for row in history if row.get("valid_auc") is not None]
        key = "validation"
    if not rows:
        return None
    first, last = rows[0], rows[-1]
    auc = "test_auc" if key == "test" else "valid_auc"
    if len(rows) == 1 or first["n_kernels"] == last["n_kernels"]:
        return (
            f"{last['n_kernels']} kernels reach a {key} ROC AUC of {last[auc]:.3f} "
            f"({last[auc] - 0.5:+.3f} above chance); no pruning stage to compare with."
        )
    above = first[auc] - 0.5
    if above <= 0:
        return (
            f"The {first['n_kernels']}-kernel model is no better than chance on the {key} part "
            f"(AUC {first[auc]:.3f}); {last['n_kernels']} kernels reach {last[auc]:.3f}."
        )
    kept = (last[auc] - 0.5) / above
    if kept > 1:
        return (
            f"{last['n_kernels']} kernels do better than the {first['n_kernels']}-kernel model "
            f"({key} ROC AUC {last[auc]:.3f} against {first[auc]:.3f})."
        )
    return (
        f"{last['n_kernels']} kernels keep {kept:.0%} of the {first['n_kernels']}-kernel model's "
        f"AUC above chance ({key} ROC AUC {last[auc]:.3f} against {first[auc]:.3f})."
    )


def _accuracy_section(metrics, report, problems: _Problems) -> str:
    out = ['<section id="accuracy"><h2>Accuracy</h2>']
    history = metrics.get("history") or []
    line = _reading(history)
    if line:
        out.append(f'<p class="reading" id="reading">{html.escape(line, quote=False)}</p>')
    test = report.get("test")
    if test:
        out.append(
            f"<p>Test ROC AUC <strong>{test['roc_auc']:.4f}</strong>, PR AUC (average precision) "
            f"<strong>{test['pr_auc']:.4f}</strong> (a random ranking scores "
            f"{test['prevalence']:.3f}).</p>"
        )
        uri = problems.run("figure: ROC and PR curves", _curves_figure, test)
        if uri:
            out.append(_img(uri, "ROC and precision-recall curves on the test part"))
    elif metrics.get("test_auc") is not None:
        out.append(f"<p>Test ROC AUC <strong>{metrics['test_auc']:.4f}</strong>.</p>")
        problems.append("metrics.json: no test curves (written by an older deepprune fit?)")
    if history:
        uri = problems.run("figure: AUC per stage", _stages_figure, history)
        if uri:
            out.append(_img(uri, "validation and test AUC against kernel count"))
        rows = [
            [
                row.get("stage"),
                row.get("n_kernels"),
                row.get("valid_auc"),
                row.get("test_auc"),
                row.get("epochs"),
                row.get("best_valid_loss"),
                row.get("seconds"),
                "kept" if i == len(history) - 1 else "",
            ]
            for i, row in enumerate(history)
        ]
        header = ["stage", "kernels", "validation AUC", "test AUC", "epochs", "best loss", "s", ""]
        out.append(_table(header, rows, "stages"))
    out.append("</section>")
    return "\n".join(out)


def _kernel_rows(metrics, report, model, motifs, matches, problems: _Problems) -> str:
    """The table of kernels: one row per kernel of the final network."""
    classifier = model[-1] if model is not None else None
    entries = list(report.get("kernels") or [])
    if not entries and classifier is not None:
        entries = [
            {"kernel": k, "dense_weight": float(w)} for k, w in enumerate(classifier.dense_weight_)
        ]
    if not entries and motifs:
        entries = [{"kernel": k} for k in range(len(motifs))]
    criterion = (metrics.get("params") or {}).get("criterion", "?")
    sharpness = getattr(classifier, "pool_sharpness_", None)  # pooling="lse" only
    loss_part = report.get("data", {}).get("loss_part", "validation")
    edges = report.get("position_edges")
    header = [
        "kernel",
        "logo: forward, reverse complement",
        "dense weight",
        f"importance ({criterion})",
        f"{loss_part} loss change if removed",
        "test positives with a site",
        "test negatives with a site",
        "best-site positions (blue: positives, red: negatives)",
        "best JASPAR matches",
    ]
    rows = []
    for entry in entries:
        k = entry["kernel"]
        motif = motifs[k] if motifs is not None and k < len(motifs) else None
        cells = [f'<td class="num">{k}</td>']
        if motif is not None:
            shown = _trimmed(motif)
            logos = []
            for pfm, label in (
                (shown.pfm, "forward"),
                (shown.pfm[::-1, ::-1], "reverse complement"),
            ):
                uri = problems.run(f"logo of kernel {k}", _logo_image, pfm, shown.start, label)
                logos.append(_img(uri, f"kernel {k} {label} logo") if uri else "")
            cells.append(f"<td>{''.join(logos)}</td>")
        else:
            cells.append("<td>&ndash;</td>")
        if entry.get("dense_mean_weight") is not None:
            cells.append(
                f'<td class="num">{entry["dense_weight"]:.3g} <span class="small">(mean: '
                f"{entry['dense_mean_weight']:.3g})</span></td>"
            )
        elif (
            entry.get("dense_weight") is not None and sharpness is not None and k < len(sharpness)
        ):
            cells.append(
                f'<td class="num">{entry["dense_weight"]:.3g} <span class="small">(soft '
                f"maximum, sharpness {float(sharpness[k]):.3g})</span></td>"
            )
        else:
            cells.append(_cell(entry.get("dense_weight")))
        if entry.get("importance") is not None:
            cells.append(
                f'<td class="num">{entry["importance"]:.3g} '
                f'<span class="small">(rank {entry["importance_rank"]} of '
                f"{entry['n_candidates']})</span></td>"
            )
        else:
            cells.append("<td>&ndash; (not pruned)</td>")
        change = entry.get("loss_change")
        cells.append(_cell(None if change is None else float(f"{change:+.3g}")))
        cells.append(_percent(entry.get("sites_positives")))
        cells.append(_percent(entry.get("sites_negatives")))
        if edges and "positions_positives" in entry:
            uri = problems.run(f"site histogram of kernel {k}", _positions_image, entry, edges)
            cells.append(f"<td>{_img(uri, f'kernel {k} site positions') if uri else ''}</td>")
        else:
            cells.append("<td>&ndash;</td>")
        cells.append(_matches_cell(motif, matches, k, problems))
        rows.append(f'<tr class="kernel" id="kernel-{k}">' + "".join(cells) + "</tr>")
    head = "".join(f"<th>{html.escape(name)}</th>" for name in header)
    note = (
        "<p class=small>Loss change: the mean log loss on the "
        f"{html.escape(loss_part)} part when the kernel's score is replaced by its mean "
        "(positive: the model needs it). Sites: a sequence has a site of a kernel when its best "
        "window scores above half the kernel's best over the test part (as for the logos). "
        "Importance: the criterion's value at the last pruning step, ranked among the kernels "
        "it chose from. Sharpness (soft-maximum pooling): large, the kernel reads its best "
        "site only; small, it counts its weaker sites as well.</p>"
    )
    return (
        '<section id="kernels"><h2>Kernels</h2>'
        f'{note}<div class="wide"><table id="kernel-table"><thead><tr>{head}</tr></thead>'
        f"<tbody>{''.join(rows)}</tbody></table></div></section>"
    )


def _percent(value) -> str:
    return "<td>&ndash;</td>" if value is None else f'<td class="num">{value:.1%}</td>'


def _matches_cell(motif, matches, k: int, problems: _Problems) -> str:
    if motif is None or matches is None:
        return "<td>&ndash;</td>"
    mine = matches[matches["query"] == motif.name]
    target_pfms = matches.attrs.get("target_pfms", {})
    parts = []
    for match in mine.itertuples():
        text = (
            f"<div class=match><strong>{html.escape(str(match.target_name))}</strong> "
            f"{html.escape(str(match.target_id))}, E&nbsp;=&nbsp;{match.e_value:.2g}"
        )
        if match.target_id in target_pfms:
            uri = problems.run(
                f"JASPAR logo {match.target_id} for kernel {k}",
                _match_image,
                _trimmed(motif),
                match,
                target_pfms[match.target_id],
            )
            if uri:
                text += _img(uri, f"{match.target_name} aligned to kernel {k}")
        parts.append(text + "</div>")
    return f"<td><div class=matches>{''.join(parts) or '&ndash;'}</div></td>"


def _reproduce_section(metrics, report, model) -> str:
    out = ['<section id="reproduce"><h2>Reproducing the fit</h2>']
    if report.get("command"):
        out.append(f"<p>Command line:</p><pre>{html.escape(report['command'])}</pre>")
    params = metrics.get("params") or {}
    if not params and model is not None:
        params = model[-1].get_params()
    if "random_state" in params:
        out.append(f"<p>Random state: <code>{html.escape(str(params['random_state']))}</code></p>")
    versions = report.get("versions")
    if not versions:
        from sklearn_deepprune.persistence import _versions

        versions = _versions()
        out.append("<p class=small>Versions of this report's run (the fit recorded none).</p>")
    rows = [[name, version] for name, version in versions.items()]
    out.append("<h3>Versions</h3>" + _table(["package", "version"], rows, "versions"))
    if params:
        rows = [[name, _jsonable(value)] for name, value in sorted(params.items())]
        out.append("<h3>Model settings</h3>" + _table(["parameter", "value"], rows, "settings"))
    settings = report.get("settings")
    if settings:
        rows = [[name, _jsonable(value)] for name, value in sorted(settings.items())]
        out.append("<h3>Command options</h3>" + _table(["option", "value"], rows, "options"))
    timings = []
    if metrics.get("seconds") is not None:
        timings.append(["whole fit", round(float(metrics["seconds"]), 2)])
    for row in metrics.get("history") or []:
        if row.get("seconds") is not None:
            timings.append(
                [f"stage {row.get('stage')} ({row.get('n_kernels')} kernels)", row["seconds"]]
            )
    if timings:
        out.append("<h3>Timings (seconds)</h3>" + _table(["part", "s"], timings, "timings"))
    if report.get("created"):
        out.append(f"<p class=small>Fitted: {html.escape(report['created'])}.</p>")
    out.append("</section>")
    return "\n".join(out)


def write_fit_report(
    folder: str | os.PathLike,
    output: str | os.PathLike | None = None,
    *,
    matches: bool | None = None,
) -> tuple[Path, list[str]]:
    """Write the HTML page of a ``deepprune fit`` folder.

    Reads ``metrics.json`` (with the ``report`` numbers of
    :func:`fit_report_data`), ``model.deepprune`` and ``motifs.meme``, and
    matches the motifs with JASPAR (Tomtom, the three best per kernel).
    Whatever is missing or corrupt is named on the page, which is then
    marked incomplete; the rest is still written.

    Parameters
    ----------
    folder : str or path-like
        The fit folder.
    output : str, path-like or None, default=None
        Where to write the page; default ``folder/report.html``.
    matches : bool or None, default=None
        Whether to match the kernels with JASPAR (needs memelite and
        pyjaspar; the first use compiles Tomtom, about a minute). ``None``:
        unless the fit was run with ``--no-matches``.

    Returns
    -------
    path : pathlib.Path
        The page written.
    problems : list of str
        What could not be read or drawn, each naming its file; empty when
        the page is complete.

    Raises
    ------
    ValueError
        If ``folder`` is not a folder.
    """
    folder = Path(folder)
    if not folder.is_dir():
        raise ValueError(f"{folder} is not a folder")
    problems = _Problems()
    metrics = problems.run("metrics.json", _read_metrics, folder / "metrics.json") or {}
    report = metrics.get("report")
    if metrics and not isinstance(report, dict):
        problems.append("metrics.json: no 'report' numbers (written by an older deepprune fit?)")
    report = report if isinstance(report, dict) else {}
    model = problems.run("model.deepprune", _read_model, folder / "model.deepprune")
    motifs = problems.run("motifs.meme", _read_motifs, folder / "motifs.meme")
    if motifs is not None and model is not None and len(motifs) != len(model[-1].dense_weight_):
        problems.append(
            f"motifs.meme: {len(motifs)} motifs for a model of {len(model[-1].dense_weight_)} "
            "kernels"
        )
        motifs = None
    found = None
    wanted = matches
    if wanted is None:
        wanted = not (report.get("settings") or {}).get("no_matches")
    if motifs is not None and wanted:
        from sklearn_deepprune.motifs import compare_motifs

        found = problems.run(
            "JASPAR matches", compare_motifs, [_trimmed(m) for m in motifs], "JASPAR", n_matches=3
        )
    name = str(metrics.get("data") or folder.name)
    sections = [
        '<nav><a href="#data">The data</a><a href="#accuracy">Accuracy</a>'
        '<a href="#kernels">Kernels</a><a href="#reproduce">Reproducing the fit</a></nav>'
    ]
    try:
        sections.append(_data_section(metrics, report))
        sections.append(_accuracy_section(metrics, report, problems))
        sections.append(_kernel_rows(metrics, report, model, motifs, found, problems))
        sections.append(_reproduce_section(metrics, report, model))
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        problems.append(f"metrics.json: unexpected content ({type(exc).__name__}: {exc})")
    title = f"Deepprune model: {Path(name).name}"
    page = _page(title, sections, list(problems))
    path = Path(output) if output is not None else folder / REPORT_FILE
    write_atomic(path, page.encode("utf-8"))
    return path, list(problems)


# -- a sweep's page --------------------------------------------------------------

_SWEEP_FIGURES = {
    "auc_vs_kernels": "Test AUC against kernel count (the paper's Figures 2/3)",
    "criteria": "Pruning criteria compared (Figure 4)",
    "paired_differences": "Paired AUC differences at the smallest kernel count (Figure 6)",
}


def write_sweep_report(
    folder: str | os.PathLike, output: str | os.PathLike | None = None
) -> tuple[Path, list[str]]:
    """Write the HTML page of a sweep's report folder.

    The page shows what :func:`~sklearn_deepprune.experiments.write_report`
    wrote there: the summary table (``summary.csv``), the Wilcoxon
    comparisons (``comparison.csv``) and the figures (``*.png``), inline.

    Parameters
    ----------
    folder : str or path-like
        A report folder, as written by
        :func:`~sklearn_deepprune.experiments.write_report`.
    output : str, path-like or None, default=None
        Where to write the page; default ``folder/report.html``.

    Returns
    -------
    path : pathlib.Path
        The page written.
    problems : list of str
        What could not be read, each naming its file; empty when complete.

    Raises
    ------
    ValueError
        If ``folder`` is not a folder.
    """
    import pandas as pd

    folder = Path(folder)
    if not folder.is_dir():
        raise ValueError(f"{folder} is not a folder")
    problems = _Problems()
    sections = []
    summary = problems.run("summary.csv", _read_csv, pd, folder / "summary.csv")
    if summary is not None:
        sections.append(
            '<section id="summary"><h2>Summary</h2><p>Test ROC AUC per data set, variant, '
            "criterion and kernel count, over the seeds.</p>"
            + summary.to_html(index=False, float_format=lambda x: f"{x:.4g}", border=0)
            + "</section>"
        )
    comparison_file = folder / "comparison.csv"
    if comparison_file.exists():
        comparison = problems.run("comparison.csv", _read_csv, pd, comparison_file)
        if comparison is not None:
            sections.append(
                '<section id="comparison"><h2>Comparison</h2><p>Per kernel count: the fraction '
                "of data sets where the variant beats the reference, and the one-sided "
                "Wilcoxon signed-rank p-value over the data sets.</p>"
                + comparison.to_html(index=False, float_format=lambda x: f"{x:.4g}", border=0)
                + "</section>"
            )
    figures = []
    for name, caption in _SWEEP_FIGURES.items():
        path = folder / f"{name}.png"
        if path.exists():
            png = path.read_bytes()
            if not png.startswith(b"\x89PNG\r\n\x1a\n"):
                problems.append(f"{path}: not a PNG file")
                continue
            figures.append(f"<figure>{_img(_data_uri(png), caption)}<figcaption>"
                           f"{html.escape(caption)}</figcaption></figure>")  # fmt: skip
    if figures:
        sections.append('<section id="figures"><h2>Figures</h2>' + "".join(figures) + "</section>")
    page = _page(f"Deepprune sweep: {folder.resolve().parent.name}", sections, list(problems))
    path = Path(output) if output is not None else folder / REPORT_FILE
    write_atomic(path, page.encode("utf-8"))
    return path, list(problems)


def _read_csv(pd, path: Path):
    if not path.is_file():
        raise FileNotFoundError(f"{path} is missing")
    try:
        return pd.read_csv(path)
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as exc:
        raise ValueError(f"{path}: not a CSV table ({exc})") from None
