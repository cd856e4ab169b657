"""The HTML pages: a fit folder's report.html and a sweep report's page."""

import base64
import json
import re
import shlex
from html.parser import HTMLParser

import numpy as np
import pandas as pd
import pytest
from conftest import TINY

from sklearn_deepprune.cli import build_parser, main
from sklearn_deepprune.experiments import (
    fit_report_data,
    write_fit_report,
    write_report,
    write_sweep_report,
)
from sklearn_deepprune.experiments._html import _reading

SECTIONS = ("data", "accuracy", "kernels", "reproduce")
PNG = b"\x89PNG\r\n\x1a\n"


class _Page(HTMLParser):
    """What a test needs of a page: sections, kernel rows, every src/href, the <html> tag."""

    def __init__(self, text: str):
        super().__init__()
        self.ids, self.kernel_rows, self.links, self.tags, self.root = [], 0, [], set(), {}
        self.feed(text)

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        self.tags.add(tag)
        if tag == "html":
            self.root = attrs
        if "id" in attrs:
            self.ids.append(attrs["id"])
        if tag == "tr" and attrs.get("class") == "kernel":
            self.kernel_rows += 1
        for name in ("src", "href"):
            if name in attrs:
                self.links.append((tag, name, attrs[name]))


@pytest.fixture(scope="module")
def fit_folder(tmp_path_factory):
    """A ``deepprune fit`` folder: 4 kernels pruned from 8, on simulated set 2, no Tomtom."""
    root = tmp_path_factory.mktemp("fit")
    data = root / "sim"
    argv = ["simulate", "2", "-o", str(data), "--n-samples", "200", "--length", "50"]
    assert main(argv) == 0
    model = root / "model"
    argv = ["fit", str(data), "-o", str(model), "-q", "--n-kernels", "4", "--no-matches"]
    assert main([*argv, *TINY, "--seed", "3", "--pooling", "lse"]) == 0
    return model


def _copy(folder, tmp_path):
    copy = tmp_path / "copy"
    copy.mkdir()
    for path in folder.iterdir():
        (copy / path.name).write_bytes(path.read_bytes())
    return copy


def test_fit_writes_a_page_with_every_section(fit_folder):
    text = (fit_folder / "report.html").read_text()
    page = _Page(text)
    assert page.root["data-complete"] == "true" and "incomplete" not in page.ids
    assert set(SECTIONS) <= set(page.ids)
    assert page.kernel_rows == 4
    assert text.count("(soft maximum, sharpness ") == 4  # each kernel's, pooling="lse"
    assert [f"kernel-{k}" for k in range(4)] == [i for i in page.ids if re.match(r"kernel-\d", i)]
    metrics = json.loads((fit_folder / "metrics.json").read_text())
    parts = metrics["report"]["data"]["parts"]
    # the classifier's validation part is 10% of the training data, stratified
    assert sum(parts["validation"].values()) == int(np.ceil(0.1 * metrics["n_train"]))
    assert sum(parts["train"].values()) + sum(parts["validation"].values()) == metrics["n_train"]
    assert sum(parts["test"].values()) == metrics["n_test"] == 200
    for part, counts in parts.items():
        assert f'<tr><td>{part}</td><td class="num">{counts["positives"]}</td>' in text
    assert "Sequence length: 50 bp." in text and "both strands" in text
    reading = re.search(r'<p class="reading" id="reading">([^<]*)</p>', text)[1]
    first, last = (metrics["history"][i]["test_auc"] for i in (0, -1))
    if last > first:  # on these data the 4 kernels of the fixture do better than the 8
        assert reading == (
            f"4 kernels do better than the 8-kernel model (test ROC AUC {last:.3f} against "
            f"{first:.3f})."
        )
    else:
        assert reading.startswith("4 kernels keep ")
    assert f"Test ROC AUC <strong>{metrics['test_auc']:.4f}</strong>" in text
    for entry in metrics["report"]["kernels"]:
        assert 0 <= entry["sites_positives"] <= 1 and 0 <= entry["sites_negatives"] <= 1
        assert entry["importance_rank"] <= entry["n_candidates"] == 8
        assert len(entry["positions_positives"]) == 20
    history = metrics["history"]
    assert "kept" in text and [row["n_kernels"] for row in history] == [8, 4]
    for name in ("sklearn_deepprune", "torch", "scikit-learn"):
        assert f"<td>{name}</td>" in text


def test_the_command_line_reproduces_the_options(fit_folder):
    metrics = json.loads((fit_folder / "metrics.json").read_text())
    command = metrics["report"]["command"]
    words = shlex.split(command)
    assert words[:2] == ["deepprune", "fit"] and "--seed" in words and "--no-matches" in words
    again = vars(build_parser().parse_args(words[1:]))
    settings = metrics["report"]["settings"]
    for key, value in settings.items():
        assert again[key] == value, key
    assert f"<pre>{command}</pre>" in (fit_folder / "report.html").read_text()


def test_page_is_self_contained_and_small(fit_folder):
    text = (fit_folder / "report.html").read_text()
    page = _Page(text)
    assert "script" not in page.tags and "link" not in page.tags
    images = [value for tag, name, value in page.links if tag == "img"]
    # ROC/PR, stages; per kernel: two logos and a histogram (no matches: --no-matches)
    assert len(images) == 2 + 3 * 4
    for value in images:
        assert value.startswith("data:image/png;base64,")
        assert base64.b64decode(value.split(",", 1)[1]).startswith(PNG)
    others = [value for tag, name, value in page.links if tag != "img"]
    assert others and all(value.startswith("#") for value in others)
    assert "url(" not in text and "@import" not in text
    assert len(text.encode()) < 2_000_000


@pytest.mark.slow
def test_page_with_jaspar_matches_stays_under_2_mb(fit_folder, tmp_path):
    copy = _copy(fit_folder, tmp_path)
    path, problems = write_fit_report(copy, matches=True)  # the fit had --no-matches
    assert problems == []
    text = path.read_text()
    page = _Page(text)
    assert page.kernel_rows == 4
    # three matches per kernel, each with its JASPAR logo aligned to the kernel's
    assert text.count("<div class=match>") == 12
    assert re.search(r"MA\d{4}\.\d, E&nbsp;=&nbsp;", text)
    assert len([1 for tag, _, _ in page.links if tag == "img"]) == 2 + 3 * 4 + 12
    assert len(text.encode()) < 2_000_000


@pytest.mark.parametrize(
    "damage, named",
    [
        (lambda folder: (folder / "metrics.json").unlink(), "metrics.json"),
        (lambda folder: (folder / "metrics.json").write_text('{"data": 1,\n  oops'), "line 2"),
        (lambda folder: (folder / "model.deepprune").write_bytes(b"PK\x03\x04 junk"), "model"),
        (lambda folder: (folder / "model.deepprune").unlink(), "model.deepprune"),
        (lambda folder: (folder / "motifs.meme").write_text("MEME version 4\nnot"), "motifs"),
    ],
)
def test_a_damaged_folder_gets_an_incomplete_page(fit_folder, tmp_path, damage, named, capsys):
    copy = _copy(fit_folder, tmp_path)
    (copy / "report.html").unlink()
    damage(copy)
    # the command builds the page anyway, says what is wrong on one line, and fails
    # (write_fit_report's list of problems is what it prints: one build per case)
    capsys.readouterr()
    assert main(["report", str(copy), "--no-matches"]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("deepprune: error: ") and named in err
    text = (copy / "report.html").read_text()
    page = _Page(text)
    assert page.root["data-complete"] == "false" and "incomplete" in page.ids
    assert "(incomplete)</title>" in text
    assert named in text
    # what could be read is still there: one row per kernel, from the model or metrics.json
    assert page.kernel_rows == 4
    assert set(SECTIONS) <= set(page.ids)


def test_report_command_rebuilds_a_fit_page(fit_folder, tmp_path, capsys):
    copy = _copy(fit_folder, tmp_path)
    before = (copy / "report.html").read_text()
    (copy / "report.html").unlink()
    assert main(["report", str(copy)]) == 0
    assert f"wrote {copy / 'report.html'}" in capsys.readouterr().out
    after = (copy / "report.html").read_text()
    assert after == before  # everything it shows comes from the folder
    assert not (copy / "report").exists()  # not taken for a sweep


def test_reading_in_plain_words():
    history = [
        {"n_kernels": 16, "test_auc": 0.9, "valid_auc": 0.95},
        {"n_kernels": 8, "test_auc": 0.8, "valid_auc": 0.9},
        {"n_kernels": 4, "test_auc": 0.7, "valid_auc": 0.85},
    ]
    assert _reading(history).startswith("4 kernels keep 50% of the 16-kernel model's AUC")
    assert "no better than chance" in _reading([{**history[0], "test_auc": 0.4}, history[2]])
    assert "2 kernels do better than the 4-kernel" in _reading(
        [history[2], {**history[0], "n_kernels": 2}]
    )
    no_test = [{**row, "test_auc": None} for row in history]
    assert "keep 78%" in _reading(no_test) and "validation" in _reading(no_test)


def _results():
    rows = []
    for i, dataset in enumerate("abcde"):
        for seed in (0, 1):
            for kernels in (4, 8):
                base = 0.7 + 0.01 * seed
                rows.append((dataset, "baseline", "none", kernels, seed, base))
                rows.append((dataset, "deepprune", "ablation", kernels, seed, base + 0.02 * i))
    frame = pd.DataFrame(
        rows, columns=["dataset", "variant", "criterion", "kernels", "seed", "auc"]
    )
    frame["epochs"], frame["seconds"], frame["start_kernels"], frame["job"] = 10, 1.0, 16, "j"
    return frame


def test_sweep_page(tmp_path):
    written = write_report(_results(), tmp_path / "report")
    assert {"summary", "comparison", "auc_vs_kernels", "paired_differences"} <= set(written)
    assert written["html"] == tmp_path / "report" / "report.html"
    text = written["html"].read_text()
    page = _Page(text)
    assert page.root["data-complete"] == "true"
    assert {"summary", "comparison", "figures"} <= set(page.ids)
    assert "wilcoxon_p" in text and "win_fraction" in text
    images = [value for tag, name, value in page.links if tag == "img"]
    assert len(images) == 2  # auc_vs_kernels, paired_differences (one criterion)
    for value, name in zip(images, ("auc_vs_kernels", "paired_differences"), strict=True):
        assert base64.b64decode(value.split(",", 1)[1]) == written[name].read_bytes()
    assert all(tag == "img" for tag, _, _ in page.links)

    (tmp_path / "report" / "comparison.csv").write_text('"unclosed\n')
    (tmp_path / "report" / "paired_differences.png").write_text("not a picture")
    path, problems = write_sweep_report(tmp_path / "report")
    assert len(problems) == 2 and "comparison.csv" in problems[0], problems
    assert "paired_differences.png: not a PNG" in problems[1]
    assert 'data-complete="false"' in path.read_text()


def test_report_command_on_a_sweep_folder_writes_the_page(tmp_path, capsys):
    _results().to_csv(tmp_path / "results.csv", index=False)
    assert main(["report", str(tmp_path / "results.csv")]) == 0
    assert str(tmp_path / "report" / "report.html") in capsys.readouterr().out
    assert _Page((tmp_path / "report" / "report.html").read_text()).root["data-complete"] == "true"


def test_not_a_folder(tmp_path):
    with pytest.raises(ValueError, match="is not a folder"):
        write_fit_report(tmp_path / "missing")


@pytest.fixture(scope="module", params=["max", "max_avg"])
def toy_pipeline(toy_sequences, request):
    from sklearn.pipeline import make_pipeline

    from sklearn_deepprune import DeepPruneClassifier, SequenceOneHotEncoder

    train, y_train, _, _ = toy_sequences
    clf = DeepPruneClassifier(
        n_kernels=2,
        n_prune_steps=1,
        kernel_size=8,
        max_epochs=3,
        patience=2,
        random_state=5,
        pooling=request.param,
    )
    return make_pipeline(SequenceOneHotEncoder(), clf).fit(train, y_train)


def test_the_validation_part_is_the_classifiers(toy_pipeline, toy_sequences):
    from sklearn.metrics import roc_auc_score

    from sklearn_deepprune.experiments._html import _validation_part

    train, y_train, _, _ = toy_sequences
    valid = _validation_part(toy_pipeline[-1], y_train)
    assert len(valid) == 30
    scores = toy_pipeline.decision_function([train[i] for i in valid])
    # the AUC the classifier measured on its own validation part, after the last stage
    assert roc_auc_score(y_train[valid], scores) == pytest.approx(
        toy_pipeline[-1].pruning_history_[-1]["valid_auc"]
    )


def test_loss_change_is_the_network_without_the_kernel(toy_pipeline, toy_sequences):
    import torch
    from sklearn.metrics import log_loss

    from sklearn_deepprune.experiments._html import _validation_part

    train, y_train, test, y_test = toy_sequences
    report = fit_report_data(toy_pipeline, train, y_train, test, y_test)
    assert report["data"]["loss_part"] == "validation"
    clf = toy_pipeline[-1]
    valid = _validation_part(clf, y_train)
    X = toy_pipeline[0].transform([train[i] for i in valid])
    module = clf.net_.module_
    with torch.no_grad():
        features = module.features(torch.as_tensor(X)).numpy().astype(float)
        logits = module(torch.as_tensor(X)).numpy().astype(float)
    weights = module.dense.weight.detach().numpy()[0].astype(float)
    full = log_loss(y_train[valid], 1 / (1 + np.exp(-logits)), labels=[0, 1])
    n_pools = len(weights) // 2
    assert n_pools == (2 if clf.pooling == "max_avg" else 1)
    for k, entry in enumerate(report["kernels"]):
        # each feature of the kernel replaced by its mean over the part
        columns = [k + pool * len(report["kernels"]) for pool in range(n_pools)]
        change = (features[:, columns].mean(axis=0) - features[:, columns]) @ weights[columns]
        removed = log_loss(y_train[valid], 1 / (1 + np.exp(-(logits + change))), labels=[0, 1])
        assert entry["loss_change"] == pytest.approx(removed - full, rel=1e-4, abs=1e-6)
        assert ("dense_mean_weight" in entry) == (clf.pooling == "max_avg")
    # no test part: no curves, no site statistics, but the counts and loss changes
    report = fit_report_data(toy_pipeline, train, y_train, None, None)
    assert "test" not in report and "test" not in report["data"]["parts"]
    assert all("sites_positives" not in entry for entry in report["kernels"])


def test_a_test_part_of_one_class_gets_no_curves(toy_pipeline, toy_sequences):
    train, y_train, test, y_test = toy_sequences
    positives = [seq for seq, label in zip(test, y_test, strict=True) if label == 1]
    report = fit_report_data(toy_pipeline, train, y_train, positives, np.ones(len(positives)))
    assert "test" not in report
    assert report["data"]["parts"]["test"] == {"positives": len(positives), "negatives": 0}
    json.dumps(report, allow_nan=False)  # strict JSON: no NaN AUC
