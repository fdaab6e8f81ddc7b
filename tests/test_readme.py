"""The README's plugin example runs as written, on looping content served locally."""

from __future__ import annotations

import asyncio
import re
from pathlib import Path

import stagekit
from stagekit.testing import serve
from stagekit.testing.repo import Repo, StaticFile

README = Path(__file__).resolve().parent.parent / "README.md"


def readme_plugin() -> dict:
    blocks = re.findall(r"```python\n(.*?)```", README.read_text(), re.S)
    source = next(b for b in blocks if "class LinkedPages" in b)
    namespace: dict = {}
    exec(compile(source, str(README), "exec"), namespace)
    return namespace


async def test_readme_linked_pages_example_follows_links_and_ends_cycles(tmp_path):
    pages = {
        "index.txt": "a.txt\nb.txt\n",
        "a.txt": "c.txt\n",
        "b.txt": "c.txt\nindex.txt\n",  # a cycle back to the root
        "c.txt": "",
    }
    repo = Repo({path: StaticFile(body.encode()) for path, body in pages.items()})
    linked_pages = readme_plugin()["LinkedPages"]
    async with serve(repo) as server:
        async with asyncio.timeout(30):
            run = await stagekit.explore(linked_pages(server.url, "index.txt"),
                                         store=tmp_path / "store")
    assert run.depths() == {
        "web.page:index.txt": 0, "web.page:a.txt": 1, "web.page:b.txt": 1, "web.page:c.txt": 2,
    }
    assert ("web.page:b.txt", "web.page:index.txt", "link") in run.records.edge_set()
    assert set(run.to_dataframe()["status"]) == {"downloaded"}
    assert server.counters.count("c.txt") == 1
