"""Experiments: the sweep (resume, table, Dask), statistics and figures."""

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from matplotlib.figure import Figure
from scipy.stats import wilcoxon

from sklearn_deepprune.experiments import (
    RESULT_COLUMNS,
    SweepDataset,
    _sweep,
    compare_variants,
    load_results,
    paired_differences,
    plot_auc_vs_kernels,
    plot_criteria,
    plot_paired_differences,
    resolve_criterion,
    resolve_datasets,
    run_sweep,
    summarize,
    write_report,
)

SHARED_DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"
TINY = {"kernel_size": 8, "max_epochs": 3, "patience": 2, "batch_size": 64, "n_prune_steps": 1}


@pytest.fixture
def toy_dataset(toy_sequences):
    train, y_train, test, y_test = toy_sequences

    def toy():
        return np.array(train), np.array(test), y_train, y_test

    return toy


@pytest.fixture
def count_fits(monkeypatch):
    """Count the classifier fits a sweep runs (n_jobs=1 runs them in this process)."""
    calls = []
    run_job = _sweep._run_job

    def counting(job, data, threads):
        calls.append(job.key)
        return run_job(job, data, threads)

    monkeypatch.setattr(_sweep, "_run_job", counting)
    return calls


def test_sweep_table_and_resume(toy_dataset, count_fits, tmp_path):
    kwargs = dict(
        variants=["baseline", "deepprune", "inter", "lottery"],
        kernels=[1, 2],
        seeds=[0, 1],
        output=tmp_path,
        estimator_params=TINY,
        progress=False,
    )
    results = run_sweep({"toy": toy_dataset}, **kwargs)

    assert list(results.columns) == list(RESULT_COLUMNS)
    # Per seed: one deepprune fit (deepprune + inter rows), one lottery fit, 2 baselines.
    assert len(count_fits) == 2 * (1 + 1 + 2)
    counts = results.groupby(["variant", "kernels"]).size()
    for variant in ("baseline", "deepprune", "lottery"):
        assert all(counts[variant, k] == 2 for k in (1, 2))
    # The widest network was not pruned, so it has no inter row.
    assert counts["inter"].to_dict() == {1: 2}
    assert results["auc"].between(0, 1).all()
    assert set(results.loc[results.variant == "baseline", "criterion"]) == {"none"}
    assert (results.loc[results.variant == "deepprune", "start_kernels"] == 2).all()
    # Deepprune at 1 kernel cost more epochs than its inter network (one stage fewer).
    fine = results.query("variant == 'deepprune' and kernels == 1").set_index("seed")
    inter = results.query("variant == 'inter' and kernels == 1").set_index("seed")
    assert (fine["epochs"] > inter["epochs"]).all()
    assert (tmp_path / "results.csv").is_file()
    pd.testing.assert_frame_equal(load_results(tmp_path / "results.csv"), results)
    pd.testing.assert_frame_equal(load_results(tmp_path), results)
    (tmp_path / "results.csv").unlink()
    assert len(load_results(tmp_path)) == len(results)

    count_fits.clear()
    again = run_sweep({"toy": toy_dataset}, **kwargs)
    assert count_fits == []
    pd.testing.assert_frame_equal(again, results)

    # A new seed fits only what is new; a lost fit file is refitted.
    next(iter((tmp_path / "fits").glob("*baseline*seed0*"))).unlink()
    run_sweep({"toy": toy_dataset}, **{**kwargs, "seeds": [0, 1, 2]})
    assert len(count_fits) == 1 + 4


def test_sweep_in_memory_filters_rows(toy_dataset, count_fits):
    results = run_sweep(
        [toy_dataset],
        variants=["inter"],
        kernels=[1],
        seeds=[3],
        estimator_params=TINY,
        progress=False,
    )
    assert len(count_fits) == 1
    assert results[["dataset", "variant", "kernels", "seed"]].values.tolist() == [
        ["toy", "inter", 1, 3]
    ]


@pytest.mark.slow
def test_sweep_parallel_processes(toy_dataset, tmp_path):
    results = run_sweep(
        {"toy": toy_dataset},
        variants=["baseline"],
        kernels=[1, 2],
        seeds=[0],
        output=tmp_path,
        n_jobs=2,
        estimator_params=TINY,
        progress=False,
    )
    assert sorted(results["kernels"]) == [1, 2]


def test_sweep_same_seed_same_auc(toy_dataset):
    kwargs = dict(
        variants=["deepprune"], kernels=[1], seeds=[0], estimator_params=TINY, progress=False
    )
    first = run_sweep({"toy": toy_dataset}, **kwargs)
    second = run_sweep({"toy": toy_dataset}, **kwargs)
    assert first["auc"].tolist() == second["auc"].tolist()


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"variants": ["deepprune"], "kernels": [1, 3]}, "not on the pruning path"),
        ({"variants": ["pruned"]}, "variants must be"),
        ({"criteria": ["size"]}, "criteria must be"),
        ({"estimator_params": {"variant": "baseline"}}, "must not set variant"),
        ({"seeds": []}, "seeds must not be empty"),
    ],
)
def test_sweep_rejects_bad_grids(toy_dataset, kwargs, message):
    with pytest.raises(ValueError, match=message):
        run_sweep({"toy": toy_dataset}, progress=False, **{"estimator_params": TINY, **kwargs})


def test_resolve_datasets(tmp_path):
    (default,) = resolve_datasets()
    assert default.name == "simulated4"
    names = [d.name for d in resolve_datasets(["simulated1", "simulated5"], n_samples=50)]
    assert names == ["simulated1", "simulated5"]
    assert (
        resolve_datasets("simulated1")[0].signature
        != resolve_datasets("simulated1", n_samples=50)[0].signature
    )
    with pytest.raises(ValueError, match="unknown data set"):
        resolve_datasets("simulated9")
    with pytest.raises(ValueError, match="several data sets"):
        resolve_datasets(["simulated1", "simulated1"])
    with pytest.raises(ValueError, match="holds no ChIP-seq"):
        resolve_datasets(tmp_path)
    dataset = SweepDataset("mine", lambda: None)
    assert resolve_datasets([dataset]) == [dataset]


def test_resolve_simulated_loads_train_and_test():
    (dataset,) = resolve_datasets("simulated2", n_samples=40)
    X_train, y_train, X_test, y_test = dataset.load()
    assert len(X_train) == len(X_test) == 40
    assert set(y_train) == {0, 1}


@pytest.mark.skipif(not (SHARED_DATA / "chipseq").is_dir(), reason="shared data not present")
def test_resolve_chipseq_collections():
    found = resolve_datasets([SHARED_DATA / "chipseq" / "690"])
    assert [d.name for d in found] == sorted(
        p.name for p in (SHARED_DATA / "chipseq" / "690").iterdir()
    )
    ezh2 = next(d for d in found if "Ezh2" in d.name)
    X_train, y_train, X_test, y_test = ezh2.load()
    assert len(X_train) == 2681 and len(X_test) == 671


def _hand_made_results():
    """Five data sets, two seeds; Deepprune is better on 4 of 5 at 4 kernels."""
    differences = {"a": 0.10, "b": 0.05, "c": 0.02, "d": 0.08, "e": -0.01}
    rows = []
    for dataset, difference in differences.items():
        for seed in (0, 1):
            noise = 0.01 * (seed - 0.5)
            for kernels in (4, 8):
                base = 0.7 + noise
                rows.append((dataset, "baseline", "none", kernels, seed, base))
                rows.append((dataset, "deepprune", "weight", kernels, seed, base + difference))
                rows.append(
                    (dataset, "deepprune", "score", kernels, seed, base + 0.5 * difference)
                )
                rows.append((dataset, "inter", "weight", kernels, seed, base - 0.1))
    frame = pd.DataFrame(
        rows, columns=["dataset", "variant", "criterion", "kernels", "seed", "auc"]
    )
    frame["epochs"], frame["seconds"], frame["start_kernels"], frame["job"] = 10, 1.0, 16, "j"
    return frame, differences


def test_compare_variants_hand_made():
    results, differences = _hand_made_results()
    comparison = compare_variants(results, criterion="weight")
    assert comparison["kernels"].tolist() == [4, 8]
    row = comparison.iloc[0]
    assert row["n_datasets"] == 5 and row["wins"] == 4 and row["win_fraction"] == 0.8
    # Signed ranks of (0.10, 0.05, 0.02, 0.08, -0.01): W+ = 14 of 15, so the exact
    # one-sided p is P(W+ >= 14) = 2/32.
    assert row["wilcoxon_p"] == pytest.approx(2 / 32)
    expected = wilcoxon(list(differences.values()), alternative="greater").pvalue
    assert row["wilcoxon_p"] == pytest.approx(expected)
    assert row["mean_auc_deepprune"] - row["mean_auc_baseline"] == pytest.approx(
        np.mean(list(differences.values()))
    )
    score = compare_variants(results, criterion="score", kernels=[8])
    assert score["kernels"].tolist() == [8] and score.iloc[0]["wins"] == 4


def test_criterion_auto_is_the_one_the_results_hold():
    results, _ = _hand_made_results()
    assert resolve_criterion(results, None) is None
    assert resolve_criterion(results, "score") == "score"
    # Among several: the library's default, else the paper's.
    assert resolve_criterion(results) == "weight"
    pd.testing.assert_frame_equal(
        compare_variants(results), compare_variants(results, criterion="weight")
    )
    with_ablation = results.assign(criterion=results["criterion"].replace("score", "ablation"))
    assert resolve_criterion(with_ablation) == "ablation"
    score_only = results[results["criterion"] != "weight"]
    assert resolve_criterion(score_only) == "score"
    assert resolve_criterion(results[results["variant"] == "baseline"]) is None
    # Two criteria, neither preferred: "auto" cannot choose and says so.
    two = results.assign(criterion=results["criterion"].replace("weight", "score_weight"))
    with pytest.raises(ValueError, match=r"several pruning criteria \['score', 'score_weight'\]"):
        compare_variants(two)


def test_paired_differences_and_summary():
    results, differences = _hand_made_results()
    paired = paired_differences(results, criterion="weight").query("kernels == 4")
    paired = paired.set_index("dataset")
    assert paired["difference"].to_dict() == pytest.approx(differences)
    summary = summarize(results)
    assert len(summary) == 5 * 4 * 2
    assert (summary["n_seeds"] == 2).all()
    assert summary["auc_std"].iloc[0] == pytest.approx(0.01 / np.sqrt(2))
    with pytest.raises(ValueError, match="no results for variant 'lottery'"):
        compare_variants(results, variant="lottery")


def test_figures():
    results, _ = _hand_made_results()
    figure = plot_auc_vs_kernels(results)
    assert isinstance(figure, Figure)
    visible = [ax for ax in figure.axes if ax.get_visible()]
    assert [ax.get_title() for ax in visible] == ["a", "b", "c", "d", "e"]
    labels = [text.get_text() for text in visible[0].get_legend().get_texts()]
    assert labels == ["baseline", "Deepprune", "Deepprune-inter"]
    assert visible[0].get_xlabel() == "kernels"

    figure = plot_criteria(results, datasets=["a", "b"])
    visible = [ax for ax in figure.axes if ax.get_visible()]
    assert len(visible) == 2
    labels = [text.get_text() for text in visible[0].get_legend().get_texts()]
    assert labels == ["score", "weight"]

    figure = plot_paired_differences(results, kernels=4)
    scatter, bars = figure.axes
    assert "4/5" in bars.get_title() and "80.0%" in bars.get_title()
    assert len(bars.patches) == 5
    with pytest.raises(ValueError, match="at 16 kernels"):
        plot_paired_differences(results, kernels=16)


def test_write_report(tmp_path):
    results, _ = _hand_made_results()
    written = write_report(results, tmp_path / "report")
    assert set(written) == {
        "summary",
        "comparison",
        "auc_vs_kernels",
        "criteria",
        "paired_differences",
        "html",
    }
    assert all(path.is_file() for path in written.values())
    assert pd.read_csv(written["comparison"])["wins"].tolist() == [4, 4]


def test_load_results_errors(tmp_path):
    with pytest.raises(FileNotFoundError):
        load_results(tmp_path / "missing")
    with pytest.raises(FileNotFoundError, match="no sweep results"):
        load_results(tmp_path)
    (tmp_path / "bad.csv").write_text("a,b\n1,2\n")
    with pytest.raises(ValueError, match="not a results table"):
        load_results(tmp_path / "bad.csv")


@pytest.mark.slow
def test_sweep_on_dask_local_cluster(toy_dataset, tmp_path):
    distributed = pytest.importorskip("distributed")
    with distributed.LocalCluster(
        n_workers=1,
        threads_per_worker=2,
        processes=False,
        protocol="tcp://",
        host="127.0.0.1",
        scheduler_port=0,
        dashboard_address=":0",
    ) as cluster:
        results = run_sweep(
            {"toy": toy_dataset},
            variants=["baseline", "deepprune"],
            kernels=[1, 2],
            seeds=[0],
            output=tmp_path,
            scheduler=cluster.scheduler_address,
            estimator_params=TINY,
            progress=False,
        )
    assert sorted(results["variant"]) == ["baseline"] * 2 + ["deepprune"] * 2
    assert len(list((tmp_path / "fits").glob("*.csv"))) == 3


def test_fit_whose_record_is_lost_is_refitted(toy_dataset, count_fits, tmp_path):
    # The rows alone (KEY.csv without KEY.json, its settings and data signature) are not
    # trusted as a finished fit; which file a glob found first used to decide.
    kwargs = dict(
        variants=["baseline"],
        kernels=[1],
        seeds=[0],
        output=tmp_path,
        progress=False,
        estimator_params=TINY,
        n_jobs=1,
    )
    run_sweep({"toy": toy_dataset}, **kwargs)
    (record,) = (tmp_path / "fits").glob("*.json")
    record.unlink()
    count_fits.clear()
    run_sweep({"toy": toy_dataset}, **kwargs)
    assert len(count_fits) == 1
    assert record.is_file()
