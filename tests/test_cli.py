"""The deepprune command: help, errors, and each subcommand on tiny data."""

import importlib.util
import json
from importlib.metadata import entry_points

import pandas as pd
import pytest
from conftest import TINY

from sklearn_deepprune import load_model
from sklearn_deepprune.cli import main


@pytest.mark.parametrize("command", [[], ["simulate"], ["fit"], ["sweep"], ["report"]])
def test_help_exits_zero(command, capsys):
    with pytest.raises(SystemExit) as exit_info:
        main([*command, "--help"])
    assert exit_info.value.code == 0
    assert "usage: deepprune" in capsys.readouterr().out


def test_console_script_entry_point():
    (script,) = entry_points(group="console_scripts", name="deepprune")
    assert script.load() is main


@pytest.mark.parametrize(
    "argv, code, message",
    [
        ([], 2, "required: COMMAND"),
        (["sweep"], 2, "required: -o/--output"),
        (["simulate", "9", "-o", "x"], 2, "invalid choice"),
        (["sweep", "-o", "{tmp}", "--kernels", "four"], 2, "invalid int value"),
        (["report", "{tmp}/missing"], 1, "no such results file or folder"),
        (["sweep", "nowhere", "-o", "{tmp}/out"], 1, "unknown data set 'nowhere'"),
        (["sweep", "-o", "{tmp}/out", "--kernels", "4", "12"], 1, "not on the pruning path"),
        (["fit", "{tmp}/missing.data", "-o", "{tmp}/out"], 1, "unknown data set"),
    ],
)
def test_errors_are_one_line(argv, code, message, tmp_path, capsys):
    argv = [arg.format(tmp=tmp_path) for arg in argv]
    try:
        status = main(argv)
    except SystemExit as exit_info:
        status = exit_info.code
    assert status == code
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("deepprune: error: ")
    assert message in err


@pytest.mark.slow
def test_simulate_fit_sweep_report(tmp_path, capsys):
    data = tmp_path / "sim"
    assert main(["simulate", "2", "-o", str(data), "--n-samples", "120", "--length", "40"]) == 0
    assert {p.name for p in data.iterdir()} == {"train.data", "test.data", "motifs.meme"}
    assert (data / "train.data").read_text().startswith(">train_0 ")

    model = tmp_path / "model"
    assert main(["fit", str(data), "-o", str(model), "-q", "--n-kernels", "2", *TINY]) == 0
    metrics = json.loads((model / "metrics.json").read_text())
    assert metrics["n_train"] == metrics["n_test"] == 120
    assert 0 <= metrics["test_auc"] <= 1
    assert [row["n_kernels"] for row in metrics["history"]] == [4, 2]
    assert metrics["strand"] == "both" and metrics["params"]["strand"] == "auto"
    # each stage's validation and test AUC, so that a step that loses the signal shows
    for row in metrics["history"]:
        assert 0 <= row["valid_auc"] <= 1 and 0 <= row["test_auc"] <= 1
    assert metrics["history"][-1]["test_auc"] == pytest.approx(metrics["test_auc"])
    assert "test AUC per stage (kernels: AUC): 4: " in capsys.readouterr().out
    if importlib.util.find_spec("logomaker") is not None:
        assert (model / "motifs.meme").read_text().count("MOTIF") == 2
        assert (model / "logos.png").is_file()
    pipeline = load_model(model / "model.deepprune")
    assert pipeline.predict_proba(["ACGT" * 10]).shape == (1, 2)

    results = tmp_path / "results"
    argv = [
        "sweep",
        str(data),
        "-o",
        str(results),
        "-q",
        "--kernels",
        "1",
        "2",
        "--seeds",
        "0",
        *TINY,
    ]
    assert main(argv) == 0
    table = pd.read_csv(results / "results.csv")
    assert sorted(table["variant"].unique()) == ["baseline", "deepprune", "inter"]
    assert len(table) == 2 + 2 + 1

    capsys.readouterr()
    assert main(["report", str(results)]) == 0
    out = capsys.readouterr().out
    assert "win_fraction" in out
    assert (results / "report" / "auc_vs_kernels.png").is_file()
    assert (results / "report" / "paired_differences.png").is_file()


def _fit_peak_fasta(tmp_path):
    """Run ``deepprune fit`` on 40 FASTA peaks (8 distinct, each 5 times); the model folder."""
    records = [f">peak{i}\nGATAAGGC{'ACGTTGCA'[i % 8 :] * 4}\n" for i in range(40)]
    fasta = tmp_path / "peaks.fa"
    fasta.write_text("".join(records))
    model = tmp_path / "model"
    assert main(["fit", str(fasta), "-o", str(model), "-q", "--n-kernels", "1", *TINY]) == 0
    return model


@pytest.mark.slow
def test_fit_fasta_of_peaks_uses_shuffled_negatives(tmp_path, capsys):
    metrics = json.loads((_fit_peak_fasta(tmp_path) / "metrics.json").read_text())
    # 40 peaks and one shuffle of each; 20% held out by default, pairs kept together
    assert metrics["n_train"] == 64
    assert metrics["n_test"] == 16
    assert 0 <= metrics["test_auc"] <= 1


@pytest.mark.slow  # whole CLI fits: kept out of the fast run's time
def test_warnings_are_one_line(tmp_path, capsys):
    _fit_peak_fasta(tmp_path)  # the loader warns about the duplicated peaks
    err = capsys.readouterr().err
    warned = [line for line in err.splitlines() if line.startswith("deepprune: warning: ")]
    assert any("occur more than once" in line for line in warned), err
    assert "UserWarning" not in err and ".py:" not in err
