"""Serve the load test's file repo from another process (the client keeps a core).

``python load_server.py N SEED`` prints the base URL, serves with the load test's faults
until stdin closes, then prints the server's counters as one JSON line.
"""

from __future__ import annotations

import asyncio
import json
import sys

from stagekit.testing import Faults, Server, reset, status
from stagekit.testing.file import FileRepo, make_file_repo

GONE = 20  # the first paths (sorted) are deleted: 404
BROKEN = 10  # the next ones answer 500 every time


def load_repo(n: int, seed: int) -> tuple[FileRepo, list[str], list[str]]:
    """The repo, the paths that 404 and the paths that always 500."""
    repo = make_file_repo(n, size=(8, 64), seed=seed, subdirs=20)
    paths = sorted(u.artifacts[0].url_path for u in repo.expected.units.values())
    gone, broken = paths[:GONE], paths[GONE:GONE + BROKEN]
    for path in gone:
        del repo.files[path]
    return repo, gone, broken


async def main(n: int, seed: int) -> None:
    repo, _, broken = load_repo(n, seed)
    faults = Faults(seed=seed)
    for path in broken:
        faults.add(status(500, path=path))
    faults.add(status(503, path="dir*", rate=0.005))
    faults.add(reset(0.5, path="dir*", rate=0.005))
    loop = asyncio.get_running_loop()
    reader = asyncio.StreamReader()
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin)
    async with Server(repo, faults=faults, other_origin=False) as server:
        print(server.url, flush=True)
        await reader.read()  # until the test closes our stdin
        counters = server.counters
        report = {"by_path": dict(counters.by_path), "faults": dict(counters.faults_applied),
                  "max_in_flight": counters.max_in_flight}
    print(json.dumps(report), flush=True)


if __name__ == "__main__":
    asyncio.run(main(int(sys.argv[1]), int(sys.argv[2])))
