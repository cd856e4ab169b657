"""fetch_chipseq: downloads with pooch from a local HTTP server (never the internet)."""

import functools
import gzip
import http.server
import random
import threading

import pytest

pytest.importorskip("pooch")

from sklearn_deepprune.datasets import fetch_chipseq  # noqa: E402

SET_690 = "wgEncodeAwgTfbsToyUniPk"
SET_DEEPBIND = "TOY_K562_TOY_(sc-1)_Lab"


class _Handler(http.server.SimpleHTTPRequestHandler):
    requests: list = []

    def do_GET(self):  # noqa: N802 (the http.server name)
        type(self).requests.append(self.path)
        super().do_GET()

    def log_message(self, *args):  # keep pytest's output clean
        pass


@pytest.fixture
def server(tmp_path):
    """A mirror of both collections on 127.0.0.1; yields (base URL, request log)."""
    root = tmp_path / "mirror"
    folder = root / "690" / SET_690
    folder.mkdir(parents=True)
    (folder / "train.data").write_text(
        ">chr1:1-8 ACGTTGCA 1\n>chr1:1-8_shuf ATGCACGA 0\n>chr1:9-16 GGGTTTAA 1\n"
        ">chr1:9-16_shuf GTGTGATA 0\n"
    )
    (folder / "test.data").write_text(">chr2:1-8 ACGTACGT 1\n>chr2:1-8_shuf AGCTAGCT 0\n")
    deepbind = root / "deepbind"
    deepbind.mkdir()
    with gzip.open(deepbind / f"{SET_DEEPBIND}_AC.seq.gz", "wt") as f:
        f.write("FoldID\tEventID\tseq\tBound\nA\tpeak1\tACGTTGCA\t1\nA\tpeak2\tGGGTTTAA\t1\n")
    with gzip.open(deepbind / f"{SET_DEEPBIND}_B.seq.gz", "wt") as f:
        f.write("FoldID\tEventID\tseq\tBound\nA\tt1\tACGTACGT\t1\nA\tt2\tAGCTAGCT\t0\n")
    handler = type("Handler", (_Handler,), {"requests": []})
    httpd = http.server.ThreadingHTTPServer(
        ("127.0.0.1", 0), functools.partial(handler, directory=str(root))
    )
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}", handler.requests
    finally:
        httpd.shutdown()
        httpd.server_close()
        thread.join()


def test_fetch_690_set_downloads_once(server, tmp_path, monkeypatch):
    base, requests = server
    monkeypatch.setenv("DEEPPRUNE_690_URL", f"{base}/690")
    data = fetch_chipseq(SET_690, data_home=tmp_path / "cache")
    assert data.train.ids.tolist()[:2] == ["chr1:1-8", "chr1:1-8_shuf"]
    assert data.test.target.tolist() == [1, 0]
    assert data.collection == "690" and data.format == "690"
    assert data.folder == str(tmp_path / "cache" / "deepprune" / "690" / SET_690)
    assert sorted(requests) == [f"/690/{SET_690}/test.data", f"/690/{SET_690}/train.data"]
    # Cached: no request the second time, even with the server gone.
    monkeypatch.setenv("DEEPPRUNE_690_URL", "http://127.0.0.1:9/nowhere")
    again = fetch_chipseq(SET_690, data_home=tmp_path / "cache")
    assert again.train.sequences.tolist() == data.train.sequences.tolist()
    assert len(requests) == 2


def test_fetch_deepbind_set_shuffles_the_training_peaks(server, tmp_path, monkeypatch):
    base, _ = server
    monkeypatch.setenv("DEEPPRUNE_DEEPBIND_URL", f"{base}/deepbind/")
    X_train, X_test, y_train, y_test = fetch_chipseq(
        SET_DEEPBIND, data_home=tmp_path, return_X_y=True
    )
    assert y_train.tolist() == [1, 0, 1, 0]  # each peak followed by its shuffle
    assert sorted(X_train[1]) == sorted(X_train[0])
    assert y_test.tolist() == [1, 0]


def test_set_with_only_a_test_file_is_split(server, tmp_path, monkeypatch):
    base, _ = server
    folder = tmp_path / "mirror" / "690" / SET_690
    (folder / "train.data").unlink()
    records = [(f"chr1:{i}", "".join(random.Random(i).choices("ACGT", k=12))) for i in range(10)]
    (folder / "test.data").write_text(
        "".join(f">{name} {seq} 1\n>{name}_shuf {seq[::-1]} 0\n" for name, seq in records)
    )
    monkeypatch.setenv("DEEPPRUNE_690_URL", f"{base}/690")
    data = fetch_chipseq(SET_690, data_home=tmp_path / "cache")
    assert data.split == "test"
    assert len(data.train.target) + len(data.test.target) == 20


def test_unknown_set_and_offline_errors(server, tmp_path, monkeypatch):
    base, _ = server
    monkeypatch.setenv("DEEPPRUNE_690_URL", f"{base}/690")
    with pytest.raises(ValueError, match=r"no data set 'wgEncodeNothing' .* DEEPPRUNE_690_URL"):
        fetch_chipseq("wgEncodeNothing", data_home=tmp_path)
    # Nothing half-done is left looking complete.
    assert not (tmp_path / "deepprune" / "690" / "wgEncodeNothing" / ".complete").exists()
    with pytest.raises(OSError, match="download_if_missing is False"):
        fetch_chipseq(SET_690, data_home=tmp_path, download_if_missing=False)
    for name in ("../etc", "a/b", "", ".hidden"):
        with pytest.raises(ValueError, match="not a data set name"):
            fetch_chipseq(name, data_home=tmp_path)


def test_failed_download_is_an_oserror(tmp_path, monkeypatch):
    # A closed port on the local machine: the connection is refused at once.
    monkeypatch.setenv("DEEPPRUNE_DEEPBIND_URL", "http://127.0.0.1:9/")
    with pytest.raises(OSError, match="cannot download http://127.0.0.1:9/"):
        fetch_chipseq(SET_DEEPBIND, data_home=tmp_path)
