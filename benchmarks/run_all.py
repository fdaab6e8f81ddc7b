"""Run every benchmark script, print one combined table, write ``results/all.json``.

Every ``*.py`` in benchmarks/ but ``_*.py`` and this file is a script. Each runs in its
own process (``--quick`` passed on when given, ``--out`` when it uses `_common`) and
writes ``<out>/<name>.json``; every JSON it wrote joins the table (a JSON without a
``measures`` list still shows up, as a row pointing at the file). Exits non-zero when a
script failed (a missed target is a result, not a failure).

    python benchmarks/run_all.py [--quick] [--only pipeline,downloads,...]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import BENCH_DIR, RESULTS_DIR, machine_info, print_table, write_json

# Run first, in this order; any other script in benchmarks/ follows, by name.
FIRST = ("bench_pipeline.py", "bench_downloads.py", "bench_scale.py", "crawl.py",
         "deb_index.py", "live_view.py")
ROW_LISTS = ("measures", "rows", "results")


def discover_scripts(bench_dir: Path = BENCH_DIR) -> list[Path]:
    """The benchmark scripts: every ``*.py`` here but ``_*.py`` helpers and this runner."""
    found = {p.name: p for p in bench_dir.glob("*.py")
             if not p.name.startswith("_") and p.name != Path(__file__).name}
    order = [n for n in FIRST if n in found] + sorted(set(found) - set(FIRST))
    return [found[n] for n in order]


def takes_out(script: Path) -> bool:
    """Whether the script parses its flags with `_common.parse_args` (so it takes --out)."""
    return "parse_args" in script.read_text(encoding="utf-8")


def script_name(script: Path) -> str:
    """``bench_pipeline.py`` -> ``pipeline``; other scripts keep their stem."""
    return script.stem.removeprefix("bench_")


def _json_mtimes(directory: Path) -> dict[Path, int]:
    return {p: p.stat().st_mtime_ns for p in directory.glob("*.json") if p.name != "all.json"}


def rows_of(payload: Any, name: str, path: Path) -> list[dict[str, Any]]:
    """The table rows in a script's JSON, whatever list it keeps them in."""
    found = None
    if isinstance(payload, list):
        found = payload
    elif isinstance(payload, dict):
        found = next((payload[k] for k in ROW_LISTS if isinstance(payload.get(k), list)), None)
    rows = []
    for item in found or []:
        if not isinstance(item, dict):
            continue
        row = dict(item)
        row.setdefault("measure", item.get("name") or name)
        rows.append(row)
    if not rows:
        rows.append({"measure": name, "value": None, "notes": f"see {path}"})
    return rows


def run_script(script: Path, quick: bool, timeout: float, out: Path | None = None
               ) -> tuple[int, float, str]:
    """Run one script; returns its exit status, seconds and the tail of its stderr."""
    cmd = [sys.executable, str(script), *(["--quick"] if quick else []),
           *(["--out", str(out)] if out is not None else [])]
    print(f"\n=== {script.name} {'--quick' if quick else ''}".rstrip(), flush=True)
    start = time.perf_counter()
    try:
        done = subprocess.run(cmd, timeout=timeout, stderr=subprocess.PIPE, text=True,
                              check=False)
    except subprocess.TimeoutExpired:
        return -1, time.perf_counter() - start, f"timed out after {timeout:.0f} s"
    if done.stderr:
        sys.stderr.write(done.stderr)
    return done.returncode, time.perf_counter() - start, done.stderr[-2000:]


def main(argv: list[str] | None = None) -> int:
    """Run the scripts and combine their results."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small sizes: a smoke run")
    parser.add_argument("--only", default="",
                        help="comma-separated names, e.g. pipeline,scale,deb_index")
    parser.add_argument("--timeout", type=float, default=None, help="seconds per script")
    parser.add_argument("--out", type=Path, default=RESULTS_DIR,
                        help="directory for all.json and the JSON of the bench_* scripts")
    args = parser.parse_args(argv)
    only = {n for n in args.only.split(",") if n}
    timeout = args.timeout or (300.0 if args.quick else 3600.0)
    started = time.strftime("%Y-%m-%dT%H:%M:%S%z")
    combined: list[dict[str, Any]] = []
    scripts: dict[str, Any] = {}
    failed = False
    for script in discover_scripts():
        name = script_name(script)
        if only and name not in only and script.stem not in only:
            continue
        out = args.out if takes_out(script) else None
        results_dir = out or RESULTS_DIR
        before = _json_mtimes(results_dir)
        rc, seconds, stderr = run_script(script, args.quick, timeout, out)
        written = sorted(p for p, m in _json_mtimes(results_dir).items() if before.get(p) != m)
        entry: dict[str, Any] = {"script": script.name, "returncode": rc, "seconds": seconds}
        if rc != 0 or not written:
            failed = True
            why = f"exit {rc}" if rc != 0 else "wrote no JSON"
            entry["error"] = f"{why}: {stderr.strip()[-500:]}"
            combined.append({"script": name, "measure": name, "value": None, "met": False,
                             "notes": f"FAILED ({why})"})
        for json_path in written if rc == 0 else []:
            payload = json.loads(json_path.read_text(encoding="utf-8"))
            entry.setdefault("json", []).append(str(json_path))
            entry.setdefault("payload", {})[json_path.stem] = payload
            combined.extend({"script": name, **row} for row in rows_of(payload, name, json_path))
        scripts[name] = entry
    machine = machine_info()
    print_table(combined, title=f"all benchmarks{' (quick)' if args.quick else ''}")
    print(f"\nmachine: {machine['cpu_model']}, {machine['cores_logical']} cores, "
          f"{machine['ram_bytes'] / 2**30:.1f} GiB RAM, Python {machine['python']}, "
          f"aiohttp {machine['aiohttp']}, load {machine['load_average']}")
    path = write_json(args.out / "all.json", {
        "started": started, "finished": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "quick": args.quick, "machine": machine, "measures": combined, "scripts": scripts,
    })
    print(f"wrote {path}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
