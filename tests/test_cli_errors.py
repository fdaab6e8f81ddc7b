"""The CLI as a newcomer meets it: every bad input gets one line and exit 2, nothing on disk.

Also: unreachable remotes exit 2 in one line whatever their kind, typos in filters warn by
name and exit 1, a failure mid-run exits 1 with what was found, an interrupt says that
discovery was still running, and the fixture server's shell entry prints what to explore.
"""

from __future__ import annotations

import asyncio
import re
import signal
import socket
import sqlite3
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from stagekit.cli import main
from stagekit.cli.demo import _served
from stagekit.testing import make_file_repo
from stagekit.testing.debian import make_deb_repo
from stagekit.testing.maven import make_maven_repo
from stagekit.testing.oci import make_oci_repo
from stagekit.testing.repo import StaticFile

pytestmark = pytest.mark.timeout(120)


DEAD = "http://127.0.0.1:9/"  # the discard port: nothing listens in the test machine

# (argv, a text the one line must contain): each is wrong before anything is fetched.
BAD_INPUTS = [
    (["explore", "file", "127.0.0.1:8080"], "'127.0.0.1:8080' has no scheme"),
    (["explore", "file", "localhost:8080/PULP_MANIFEST"], "'localhost:8080/PULP_MANIFEST'"),
    (["explore", "maven", "repo.example:8081/maven2/", "g:a"], "'repo.example:8081/maven2/'"),
    (["explore", "file", "ftp://127.0.0.1/PULP_MANIFEST"], "scheme 'ftp'"),
    (["explore", "file", "htp://127.0.0.1/PULP_MANIFEST"], "scheme 'htp'"),
    (["explore", "file", "ftp://user:hunter2@127.0.0.1/x"], "scheme 'ftp'"),
    (["explore", "file", "http://"], "names no host"),
    (["explore", "file", "http://127.0.0.1:99999/"], "'http://127.0.0.1:99999/' has a bad port"),
    (["explore", "file", "/srv/PULP_MANIFEST"], "'/srv/PULP_MANIFEST'"),
    (["explore", "file", DEAD, "stray-root"], "stray-root"),
    (["explore", "nosuchkind", DEAD], "nosuchkind"),
    (["explore", "maven", DEAD], "ROOT"),
    (["explore", "maven", DEAD, "not-a-coordinate"], "'not-a-coordinate'"),
    (["explore", "maven", DEAD, "g:a:1:x:y"], "'g:a:1:x:y'"),
    (["explore", "maven", DEAD, "g::1"], "'g::1'"),
    (["explore", "maven", DEAD, "g:a", "--scope", "complie"], "'complie'"),
    (["explore", "maven", DEAD, "g:a", "--checksums", "md5"], "'md5'"),
    (["explore", "file", DEAD, "--checksums", "sidecar"], "--checksums"),
    (["explore", "oci", DEAD], "ROOT"),
    (["explore", "oci", DEAD, "library/app", "other/repo"], "other/repo"),
    (["explore", "oci", DEAD, "Library/App"], "'Library/App'"),
    (["explore", "oci", DEAD, "library/app", "--platform", "amd64"], "'amd64'"),
    (["explore", "oci", DEAD, "library/app", "--tag", "bad tag"], "'bad tag'"),
    (["explore", "pypi", DEAD + "simple/"], "ROOT"),
    (["explore", "pypi", DEAD + "simple/", "requests>=>2"], "'requests>=>2'"),
    (["explore", "pypi", "file:///srv/simple/", "requests"], "http(s)"),
    (["explore", "deb", DEAD], "--dist"),
    (["explore", "deb", DEAD, "--dist", "../../etc"], "'../../etc'"),
    (["explore", "deb", DEAD, "--dist", "stable", "--arch", "amd 64"], "'amd 64'"),
    (["explore", "deb", DEAD, "--dist", "stable", "Not_A_Package"], "'Not_A_Package'"),
    (["explore", "file", DEAD, "--dist", "stable"], "--dist"),
    (["explore", "file", DEAD, "--max-depth", "-1"], "-1"),
    (["explore", "file", DEAD, "--max-depth", "two"], "'two'"),
    (["explore", "file", DEAD, "--concurrency", "0"], "--concurrency"),
    (["explore", "file", DEAD, "--concurrency", "-5"], "-5"),
    (["explore", "file", DEAD, "--on-error", "ignore"], "'ignore'"),
    (["explore", "file", DEAD, "--bogus"], "--bogus"),
    (["explore", "file", DEAD, "--out", "/dev/null/results"], "/dev/null"),
    (["explore", "file", DEAD, "--out", "results.json"], "'results.json'"),
    (["explore", "file", DEAD, "--out", "results.xlsx"], "'results.xlsx'"),
    (["runs", "--store", "TYPO"], "TYPO"),
    (["runs", "--bogus"], "--bogus"),
    (["show", "1", "--store", "TYPO"], "TYPO"),
    (["show", "abc"], "'abc'"),
    (["show", "0"], "0"),
    (["show"], "run"),
    (["demo", "--kind", "nope"], "'nope'"),
    (["demo", "--seed", "-3"], "-3"),
    (["demo", "--out", "demo.json"], "'demo.json'"),
    ([], "command"),
    (["nosuchcommand"], "'nosuchcommand'"),
]


def listing(folder: Path) -> set[str]:
    """Every path under ``folder``, relative to it."""
    return {str(p.relative_to(folder)) for p in folder.rglob("*")}


def one_line(text: str) -> str:
    """The one message line of ``text``; a slow run may also have logged progress lines
    (``exploring: ...`` every few seconds on a redirected stream), which are not messages."""
    lines = [line for line in text.strip().splitlines() if not line.startswith("exploring: ")]
    assert len(lines) == 1, f"expected one line, got {len(lines)}:\n{text}"
    assert "Traceback" not in text
    return lines[0]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.mark.parametrize(("argv", "named"), BAD_INPUTS, ids=lambda v: " ".join(v)
                         if isinstance(v, list) else None)
def test_bad_input_exits_2_in_one_line_naming_it_and_creates_nothing(
        argv, named, tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "a-file").write_text("x")
    before = listing(tmp_path)
    assert main(argv) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    line = one_line(captured.err)
    assert line.startswith("stagekit")
    assert named in line
    assert "hunter2" not in line  # credentials never echoed
    assert listing(tmp_path) == before


def test_paths_that_exist_but_cannot_serve_are_named(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "taken").write_text("a file, not a folder")
    (tmp_path / "folder.csv").mkdir()
    (tmp_path / "not-a-store").mkdir()
    (tmp_path / "not-a-store" / "catalog.sqlite3").write_text("")
    before = listing(tmp_path)
    cases = [
        (["explore", "file", DEAD, "--out", "taken"], "'taken' exists and is not a folder"),
        (["explore", "file", DEAD, "--out", "taken/sub"], "taken is not a folder"),
        (["explore", "file", DEAD, "--out", "folder.csv"], "'folder.csv' is a folder"),
        (["explore", "file", DEAD, "--store", "taken"], "'taken' exists and is not a folder"),
        (["runs", "--store", "taken"], "taken"),
        (["runs", "--store", "not-a-store"], "not a stagekit catalog"),
        (["show", "1", "--store", "not-a-store"], "not a stagekit catalog"),
    ]
    for argv, named in cases:
        assert main(argv) == 2, argv
        assert named in one_line(capsys.readouterr().err), argv
    assert listing(tmp_path) == before


def test_parquet_without_the_extra_names_it(tmp_path, monkeypatch, capsys):
    import stagekit.extras

    real = stagekit.extras.has_extra
    monkeypatch.setattr(stagekit.extras, "has_extra", lambda extra: extra != "parquet"
                        and real(extra))
    monkeypatch.chdir(tmp_path)
    assert main(["explore", "file", DEAD, "--out", "units.parquet"]) == 2
    assert "pip install 'stagekit[parquet]'" in one_line(capsys.readouterr().err)
    assert listing(tmp_path) == set()


def test_a_missing_extra_raises_an_error_naming_it(monkeypatch):
    import importlib.util

    from stagekit.errors import StagekitError
    from stagekit.extras import MissingExtraError, require_extra

    monkeypatch.setattr(importlib.util, "find_spec", lambda name: None)
    with pytest.raises(MissingExtraError, match=r"pip install 'stagekit\[draw\]'") as info:
        require_extra("draw")
    assert isinstance(info.value, StagekitError) and isinstance(info.value, ImportError)


@pytest.mark.parametrize("process", [
    ["explore", "file", "127.0.0.1:8080"],
    ["explore", "file", "ftp://127.0.0.1/x"],
    ["explore", "file", DEAD, "--max-depth", "-1"],
    ["runs", "--store", "TYPO"],
])
def test_a_real_process_prints_one_line_and_no_traceback(process, tmp_path):
    done = subprocess.run([sys.executable, "-m", "stagekit.cli", *process], cwd=tmp_path,
                          capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode == 2
    assert done.stdout == ""
    one_line(done.stderr)
    assert listing(tmp_path) == set()


@pytest.mark.parametrize("argv", [
    ["explore", "file", "{url}PULP_MANIFEST"],
    ["explore", "oci", "{url}", "library/app"],
    ["explore", "deb", "{url}", "--dist", "stable"],
    ["explore", "maven", "{url}", "org.example:app:1.0"],
], ids=["file", "oci", "deb", "maven"])
def test_an_unreachable_remote_exits_2_in_one_line_and_leaves_no_store(
        argv, tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    url = f"http://127.0.0.1:{free_port()}/"
    assert main([a.format(url=url) for a in argv]) == 2
    captured = capsys.readouterr()
    line = one_line(captured.err)
    assert line.startswith("stagekit explore: cannot explore: ")
    assert "Connection refused" in line
    assert len(re.findall(re.escape(url.rstrip("/")), line)) == 1  # where: said once
    assert listing(tmp_path) == set()  # the store made for this run is gone again


def test_a_distribution_that_is_not_there_is_the_entry_point_failing(tmp_path, capsys):
    repo = make_deb_repo(packages=2, seed=1)
    with _served(repo) as url:
        code = main(["explore", "deb", url, "--dist", "stabel", "--store", str(tmp_path / "s")])
    assert code == 2
    line = one_line(capsys.readouterr().err)
    assert line.startswith("stagekit explore: cannot explore: deb.release:stabel: ")
    assert "404" in line and not (tmp_path / "s").exists()


def test_a_reached_manifest_whose_files_all_fail_exits_1_not_2(tmp_path, capsys):
    repo = make_file_repo(3, seed=8)
    for unit in repo.expected.units.values():
        del repo.files[unit.artifacts[0].url_path]
    with _served(repo) as url:
        code = main(["explore", "file", url + repo.entry_path(), "--store",
                     str(tmp_path / "s")])
    assert code == 1
    captured = capsys.readouterr()
    assert "3 failed:" in captured.out and "cannot explore" not in captured.err


def test_an_existing_store_stays_when_the_remote_is_unreachable(tmp_path, capsys):
    store = tmp_path / "store"
    store.mkdir()
    url = f"http://127.0.0.1:{free_port()}/PULP_MANIFEST"
    assert main(["explore", "file", url, "--store", str(store)]) == 2
    one_line(capsys.readouterr().err)
    assert store.is_dir()


def test_deb_package_names_after_options_are_kept_and_typos_warned(tmp_path, capsys):
    repo = make_deb_repo(packages=3, seed=3)
    real = repo.packages[("main", "amd64")][0].name
    with _served(repo) as url:
        code = main(["explore", "deb", url, "--dist", "stable", "--component", "main",
                     "--arch", "amd64", "--metadata-only", "--store", str(tmp_path / "s"),
                     real, "nosuchpkg"])
    assert code == 1
    captured = capsys.readouterr()
    assert "deb.package" in captured.out  # the real name was kept and found
    warnings = [line for line in captured.err.splitlines() if line.startswith("warning:")]
    assert warnings == ["warning: deb package 'nosuchpkg' matched nothing in stable "
                        "(1 indexes read)"]


def test_an_oci_platform_matching_nothing_is_warned_by_name(tmp_path, capsys):
    repo = make_oci_repo(("library/app",), tags=2, platforms=("linux/amd64", "linux/arm64"))
    with _served(repo) as url:
        code = main(["explore", "oci", url, "library/app", "--platform", "linux/amd46",
                     "--platform", "linux/arm64", "--metadata-only",
                     "--store", str(tmp_path / "s")])
    assert code == 1
    err = capsys.readouterr().err
    assert "warning: oci platform 'linux/amd46' matched nothing" in err
    assert "linux/amd64, linux/arm64" in err  # what there is instead
    assert "'linux/arm64' matched" not in err


def test_a_maven_root_version_that_is_not_there_is_warned_and_exits_1(tmp_path, capsys):
    repo = make_maven_repo(n_poms=5, depth=2, seed=1)
    group, artifact, _version = repo.roots[0].split(":")
    with _served(repo) as url:
        code = main(["explore", "maven", url, f"{group}:{artifact}:9.9.9", "--metadata-only",
                     "--store", str(tmp_path / "s")])
    assert code == 1
    captured = capsys.readouterr()
    assert f"warning: maven root {group}:{artifact}:9.9.9 could not be fetched" in captured.err
    failure = [line for line in captured.out.splitlines() if "9.9.9: " in line]
    assert len(failure) == 1 and "404" in failure[0]
    assert failure[0].count(f"{group}:{artifact}:9.9.9") == 1  # the key once, not twice


def test_a_failure_mid_run_under_abort_exits_1_with_what_was_found(tmp_path, capsys):
    repo = make_file_repo(6, seed=4)
    victim = sorted(repo.expected.units.values(), key=lambda u: u.key)[0]
    body = repo.files[victim.artifacts[0].url_path].body
    repo.files[victim.artifacts[0].url_path] = StaticFile(body[::-1] + b"x")
    with _served(repo) as url:
        code = main(["explore", "file", url + repo.entry_path(), "--on-error", "abort",
                     "--store", str(tmp_path / "s")])
    assert code == 1
    captured = capsys.readouterr()
    assert "units," in captured.out  # the summary of what was found
    stopped = [line for line in captured.err.splitlines() if "the run stopped" in line]
    assert len(stopped) == 1 and victim.key in stopped[0] and "Traceback" not in captured.err


def test_out_file_writes_that_table_only(tmp_path, capsys):
    repo = make_file_repo(4, seed=5)
    out = tmp_path / "out"
    with _served(repo) as url:
        code = main(["explore", "file", url + repo.entry_path(), "--store",
                     str(tmp_path / "s"), "--out", str(out / "units.csv")])
    assert code == 0
    assert listing(out) == {"units.csv"}
    assert f"wrote {out / 'units.csv'}" in capsys.readouterr().out


def test_progress_on_a_redirected_stream_is_a_few_lines_without_percentages(tmp_path, capsys):
    repo = make_maven_repo(n_poms=60, depth=4, seed=2)
    with _served(repo) as url:
        code = main(["explore", "maven", url, *repo.roots, "--metadata-only",
                     "--store", str(tmp_path / "s")])
    assert code == 0
    err = capsys.readouterr().err
    assert "%" not in err and "\r" not in err
    assert len(err.splitlines()) <= 2  # a line per 5 s, and one at the end if any was shown


def test_show_counts_a_run_by_depth_kind_and_status(tmp_path, capsys):
    repo = make_maven_repo(n_poms=20, depth=3, seed=6)
    store = tmp_path / "s"
    with _served(repo) as url:
        assert main(["explore", "maven", url, *repo.roots, "--metadata-only",
                     "--store", str(store), "--json"]) == 0
    capsys.readouterr()
    before = listing(store)
    assert main(["show", "1", "--store", str(store)]) == 0
    out = capsys.readouterr().out
    depths = {int(m[1]) for m in re.finditer(r"^\s*(\d+)\s+maven\.pom\s+", out, re.M)}
    assert depths == set(range(max(depths) + 1)) and max(depths) >= 2
    total = sum(int(m[1]) for m in re.finditer(r"maven\.pom\s+\w+\s+(\d+)", out))
    assert f"{total} units" in out.splitlines()[0]
    assert main(["show", "2", "--store", str(store)]) == 2
    assert "no run 2" in one_line(capsys.readouterr().err)
    assert listing(store) == before  # read-only: no session folder, no SQLite side file


def _running_runs(catalog: Path) -> int:
    if not catalog.exists():
        return 0
    try:
        with sqlite3.connect(f"{catalog.as_uri()}?mode=ro", uri=True) as conn:
            return conn.execute("SELECT COUNT(*) FROM runs WHERE status = 'running'"
                                ).fetchone()[0]
    except sqlite3.Error:
        return 0


def test_testing_server_shell_entry_and_an_interrupt_while_discovering(tmp_path):
    server = subprocess.Popen(
        [sys.executable, "-m", "stagekit.testing", "serve", "maven", "--latency", "0.3"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert server.stdout is not None
        lines = [server.stdout.readline() for _ in range(4)]
        url = re.search(r"http://127\.0\.0\.1:\d+/", lines[0])[0]  # type: ignore[index]
        assert lines[0].startswith("serving a generated maven repository at ")
        assert lines[1].startswith("roots: org.stagekit.")
        command = lines[3].strip()
        assert command.startswith(f"stagekit explore maven {url} org.stagekit.")
        assert "".join(lines).count(url) == 2  # the URL once, and in the command
        with urllib.request.urlopen(url, timeout=10) as answer:
            page = answer.read().decode()
        assert command in page and "<a href=" in page

        store = tmp_path / "store"
        cli = subprocess.Popen(
            [sys.executable, "-m", "stagekit.cli", *command.split()[1:], "--metadata-only",
             "--store", str(store)], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
            text=True)
        deadline = time.monotonic() + 60
        while not _running_runs(store / "catalog.sqlite3"):  # wait until the run has begun
            assert cli.poll() is None and time.monotonic() < deadline
            time.sleep(0.05)
        cli.send_signal(signal.SIGINT)
        out, err = cli.communicate(timeout=60)
        assert cli.returncode == 130, err
        line = one_line(err)
        assert "interrupted: discovery was still running; " in line
        assert str(store) in line and "Traceback" not in out
    finally:
        server.send_signal(signal.SIGINT)
        server.communicate(timeout=30)
    assert server.returncode == 0


@pytest.mark.parametrize("kind", ["oci", "deb"])
def test_the_demo_of_each_kind_exits_0_and_writes_its_folder(kind, tmp_path, capsys):
    out = tmp_path / "demo"
    assert main(["demo", "--kind", kind, "--out", str(out), "--metadata-only"]) == 0
    assert {"results.csv", "graph.graphml", "store"} <= set(listing(out))
    assert "Traceback" not in capsys.readouterr().err


def test_an_unreachable_remote_that_logged_progress_ends_with_its_error_not_a_done_line(
        tmp_path, monkeypatch, capsys):
    from stagekit.cli.progress import Progress

    async def log_once_then_wait(self: Progress) -> None:
        self.show()  # as a slow entry point does after LOG_EVERY seconds
        await asyncio.Event().wait()

    monkeypatch.setattr(Progress, "follow", log_once_then_wait)
    monkeypatch.chdir(tmp_path)
    url = f"http://127.0.0.1:{free_port()}/"
    assert main(["explore", "maven", url, "org.example:app:1.0"]) == 2
    lines = capsys.readouterr().err.strip().splitlines()
    assert lines[0].startswith("exploring: ")
    assert lines[-1].startswith("stagekit explore: cannot explore: ")
    assert not any(line.startswith("done: ") for line in lines)
