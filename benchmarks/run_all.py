"""Run every benchmark script, print one combined table, write ``results/all.json``.

Each script runs in its own process (``--quick`` passed on when given) and writes
``results/<name>.json``; scripts this runner does not know the shape of still show up
with a row pointing at their JSON. Exits non-zero when a script failed (a missed target
is a result, not a failure).

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

# (script, name of the JSON it writes, whether it takes --out); missing scripts are skipped.
SCRIPTS = [
    ("bench_pipeline.py", "pipeline", True),
    ("bench_downloads.py", "downloads", True),
    ("bench_scale.py", "scale", True),
    ("deb_index.py", "deb_index", False),
    ("live_view.py", "live_view", False),
]
ROW_LISTS = ("measures", "rows", "results")


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
    parser.add_argument("--only", default="", help="comma-separated names, e.g. pipeline,scale")
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
    for filename, name, takes_out in SCRIPTS:
        script = BENCH_DIR / filename
        if not script.exists() or (only and name not in only):
            continue
        json_path = (args.out if takes_out else RESULTS_DIR) / f"{name}.json"
        before = json_path.stat().st_mtime_ns if json_path.exists() else None
        rc, seconds, stderr = run_script(script, args.quick, timeout,
                                         args.out if takes_out else None)
        entry: dict[str, Any] = {"script": filename, "returncode": rc, "seconds": seconds}
        fresh = json_path.exists() and json_path.stat().st_mtime_ns != before
        if rc != 0 or not fresh:
            failed = True
            why = f"exit {rc}" if rc != 0 else f"wrote no {json_path.name}"
            entry["error"] = f"{why}: {stderr.strip()[-500:]}"
            combined.append({"script": name, "measure": name, "value": None, "met": False,
                             "notes": f"FAILED ({why})"})
        else:
            payload = json.loads(json_path.read_text(encoding="utf-8"))
            entry["json"] = str(json_path)
            entry["payload"] = payload
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
