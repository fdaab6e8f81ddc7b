"""What the command prints and writes once a run is over."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import networkx as nx
import pandas as pd

from stagekit.notebook import write_graph_outputs
from stagekit.notebook.summary import human_bytes
from stagekit.run import Run

__all__ = ["print_summary", "summary", "write_results"]


def by_depth_and_kind(frame: pd.DataFrame) -> pd.DataFrame:
    """Units and bytes per depth and kind."""
    if frame.empty:
        return pd.DataFrame(columns=["depth", "kind", "units", "bytes"])
    table = frame.groupby(["depth", "kind"], observed=True).agg(
        units=("key", "count"), bytes=("size", "sum")
    )
    return table.reset_index()


def summary(run: Run) -> dict[str, Any]:
    """A machine-readable summary of ``run``."""
    frame = run.to_dataframe()
    stats = run.stats
    return {
        "run_id": run.run_id,
        "status": run.status,
        "units": len(frame),
        "statuses": {k: int(v) for k, v in frame["status"].value_counts().items() if v},
        "bytes": int(stats["bytes"]),
        "seconds": round(stats["elapsed"], 3),
        "max_depth": int(frame["depth"].max()) if len(frame) else 0,
        "by_depth_and_kind": [
            {"depth": int(r.depth), "kind": str(r.kind), "units": int(r.units),
             "bytes": int(r.bytes)}
            for r in by_depth_and_kind(frame).itertuples()
        ],
        "failures": [{"key": key, "error": error} for key, error in run.errors],
        "store": str(run.store.path),
    }


def print_summary(run: Run, *, as_json: bool = False) -> None:
    """Print the summary as a table (or as JSON)."""
    data = summary(run)
    if as_json:
        print(json.dumps(data, indent=2))
        return
    print(f"\n{data['units']} units, {human_bytes(data['bytes'])} downloaded, "
          f"{data['seconds']:.2f} s, run {data['run_id']} in {data['store']}")
    print("statuses: " + ", ".join(f"{k} {v}" for k, v in sorted(data["statuses"].items())))
    print(f"\n{'depth':>5}  {'kind':<16} {'units':>7} {'bytes':>10}")
    for row in data["by_depth_and_kind"]:
        print(f"{row['depth']:>5}  {row['kind']:<16} {row['units']:>7} "
              f"{human_bytes(row['bytes']):>10}")
    if data["failures"]:
        print(f"\n{len(data['failures'])} failed:")
        for failure in data["failures"]:
            print(f"  {failure['key']}: {failure['error']}")


def write_results(run: Run, out: str | Path, *, tree: bool = True) -> list[Path]:
    """Write the unit table (CSV, or Parquet by extension), GraphML and the tree SVG."""
    out = Path(out)
    if out.suffix in (".csv", ".parquet"):
        folder, table = out.parent, out
    else:
        folder, table = out, out / "results.csv"
    folder.mkdir(parents=True, exist_ok=True)
    frame = run.to_dataframe()
    if table.suffix == ".parquet":
        frame.to_parquet(table, index=False)
    else:
        frame.to_csv(table, index=False)
    written = [table]
    graph_path = folder / "graph.graphml"
    nx.write_graphml(run.graph, graph_path)
    written.append(graph_path)
    if tree:  # tree.svg (aggregated past MAX_NODES) and graph.html (interactive, offline)
        written.extend(write_graph_outputs(run, folder))
    return written
