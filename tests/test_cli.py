"""The ``stagekit`` command: demo, explore, runs, show and their exit codes."""

from __future__ import annotations

import json
import threading

import pandas as pd
import pytest

from stagekit.cli import main
from stagekit.cli.demo import _served
from stagekit.testing import make_file_repo
from stagekit.testing.repo import StaticFile

pytestmark = pytest.mark.timeout(120)


def test_demo_file_prints_summary_and_writes_results(tmp_path, capsys):
    out = tmp_path / "demo"
    assert main(["demo", "--kind", "file", "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "200 units" in printed and "downloaded 200" in printed
    frame = pd.read_csv(out / "results.csv")
    assert len(frame) == 200 and set(frame["status"]) == {"downloaded"}
    assert (out / "graph.graphml").read_text().startswith("<?xml")


def test_explore_json_summary_and_runs_and_show(tmp_path, capsys):
    repo = make_file_repo(10, seed=2)
    store = tmp_path / "store"
    with _served(repo) as url:
        code = main(["explore", "file", url + repo.entry_path(), "--store", str(store),
                     "--json", "--out", str(tmp_path / "units.parquet")])
    assert code == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["units"] == 10 and summary["statuses"] == {"downloaded": 10}
    assert summary["failures"] == []
    assert len(pd.read_parquet(tmp_path / "units.parquet")) == 10
    assert main(["runs", "--store", str(store)]) == 0
    listing = capsys.readouterr().out
    assert "file " in listing and "finished" in listing
    assert main(["show", str(summary["run_id"]), "--store", str(store)]) == 0
    assert "downloaded" in capsys.readouterr().out


def test_explore_with_failed_units_exits_1_and_lists_them(tmp_path, capsys):
    repo = make_file_repo(5, seed=4)
    victim = sorted(repo.expected.units.values(), key=lambda u: u.key)[0]
    body = repo.files[victim.artifacts[0].url_path].body
    repo.files[victim.artifacts[0].url_path] = StaticFile(body[::-1] + b"x")
    with _served(repo) as url:
        code = main(["explore", "file", url + repo.entry_path(),
                     "--store", str(tmp_path / "s")])
    assert code == 1
    printed = capsys.readouterr().out
    assert "1 failed:" in printed and victim.key in printed


def test_unreachable_remote_exits_2_with_one_line(tmp_path, capsys):
    # a port that was just free: nothing listens there
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    code = main(["explore", "file", f"http://127.0.0.1:{port}/PULP_MANIFEST",
                 "--store", str(tmp_path / "s")])
    assert code == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("stagekit explore: cannot explore: ")
    assert err[0].count(f"127.0.0.1:{port}") == 1 or "PULP_MANIFEST" in err[0]


def test_bad_arguments_exit_2(tmp_path, capsys):
    assert main(["explore", "deb", "http://127.0.0.1:1/", "--store", str(tmp_path)]) == 2
    assert "--dist" in capsys.readouterr().err
    assert main(["explore", "nosuchkind", "http://127.0.0.1:1/"]) == 2


def test_served_demo_remote_stops_its_thread():
    before = threading.active_count()
    with _served(make_file_repo(1)) as url:
        assert url.startswith("http://127.0.0.1:")
    assert threading.active_count() == before


@pytest.mark.parametrize("mode", [None, "header-or-sidecar", "sidecar", "ignore"])
def test_maven_checksums_reach_the_remote(mode):
    from stagekit.cli.parser import MAVEN_CHECKSUMS, build_parser
    from stagekit.cli.remotes import build_remote
    from stagekit.remotes.maven.checksums import CHECKSUM_MODES

    assert MAVEN_CHECKSUMS == CHECKSUM_MODES  # the parser's copy of the modes
    argv = ["explore", "maven", "http://127.0.0.1:1/", "g:a:1"]
    args = build_parser().parse_args(argv + (["--checksums", mode] if mode else []))
    remote = build_remote(args.kind, args.url, args.roots, args)
    assert remote.checksums == (mode or "header-or-sidecar")
