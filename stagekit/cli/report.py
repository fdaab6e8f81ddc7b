"""What the command prints and writes once a run is over."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path
from typing import Any

from stagekit.cli.output import Output
from stagekit.cli.text import human_bytes, table
from stagekit.run import Run

__all__ = ["print_summary", "summary", "write_results"]


def summary(run: Run) -> dict[str, Any]:
    """A machine-readable summary of ``run``, counted from its records (no DataFrame)."""
    units = run.records.units.values()
    stats = run.stats
    statuses = Counter(u.status for u in units)
    per: dict[tuple[int, str], list[int]] = {}
    for unit in units:
        entry = per.setdefault((unit.depth, unit.kind), [0, 0])
        entry[0] += 1
        entry[1] += unit.size or 0
    return {
        "run_id": run.run_id,
        "status": run.status,
        "units": len(run.records.units),
        "statuses": dict(sorted(statuses.items())),
        "bytes": int(stats["bytes"]),
        "seconds": round(stats["elapsed"], 3),
        "max_depth": max((u.depth for u in units), default=0),
        "by_depth_and_kind": [
            {"depth": depth, "kind": kind, "units": n, "bytes": size}
            for (depth, kind), (n, size) in sorted(per.items())
        ],
        "failures": [{"key": key, "error": error} for key, error in run.errors],
        "store": str(run.store.path),
    }


def print_summary(data: dict[str, Any], *, as_json: bool = False) -> None:
    """Print ``summary(run)`` as a table (or as JSON)."""
    if as_json:
        print(json.dumps(data, indent=2))
        return
    print(f"\n{data['units']} units, {human_bytes(data['bytes'])} downloaded, "
          f"{data['seconds']:.2f} s, run {data['run_id']} in {data['store']}")
    print("statuses: " + ", ".join(f"{k} {v}" for k, v in data["statuses"].items()))
    if data["by_depth_and_kind"]:
        print()
        print(table(["depth", "kind", "units", "bytes"],
                    [[r["depth"], r["kind"], r["units"], human_bytes(r["bytes"])]
                     for r in data["by_depth_and_kind"]],
                    right={"depth", "units", "bytes"}))
    if data["failures"]:
        print(f"\n{len(data['failures'])} failed:")
        for failure in data["failures"]:
            print(f"  {failure['key']}: {failure['error']}")


def write_results(run: Run, out: Output, *, tree: bool = True) -> list[Path]:
    """Write what ``out`` asks for: one table file, or a folder of table, graph and tree."""
    out.folder.mkdir(parents=True, exist_ok=True)
    frame = run.to_dataframe()
    table_path = out.path if out.is_table else out.path / "results.csv"
    if table_path.suffix == ".parquet":
        frame.to_parquet(table_path, index=False)
    else:
        frame.to_csv(table_path, index=False)
    written = [table_path]
    if out.is_table:
        return written
    import networkx as nx

    graph_path = out.path / "graph.graphml"
    nx.write_graphml(run.graph, graph_path)
    written.append(graph_path)
    if tree:  # tree.svg (aggregated past its threshold) and graph.html (interactive, offline)
        from stagekit.notebook.export import write_graph_outputs

        written.extend(write_graph_outputs(run, out.path))
    return written
