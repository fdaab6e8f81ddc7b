"""Remotes for the Run and notebook tests: linked pages served by the fixture server, flat units.

`make_linked_repo` builds a layered DAG of "pom" pages (with cycles back up) whose
bodies list ``relation path`` lines, and leaf "jar" pages; `LinkedPages` explores it the
way the README's example does. `Flat` yields ``n`` units without artifacts (no network).
"""

from __future__ import annotations

import hashlib
import random
from collections import deque
from dataclasses import dataclass

from stagekit import Remote
from stagekit.models import Content, DeclarativeArtifact, DeclarativeContent
from stagekit.testing.repo import Expected, ExpectedArtifact, ExpectedUnit, Repo, StaticFile


@dataclass(frozen=True)
class Pom(Content):
    kind = "demo.pom"
    path: str

    def natural_key(self):
        return (self.path,)


@dataclass(frozen=True)
class Jar(Content):
    kind = "demo.jar"
    path: str

    def natural_key(self):
        return (self.path,)


@dataclass(frozen=True)
class Item(Content):
    kind = "bench.item"
    name: str

    def natural_key(self):
        return (self.name,)


def make_linked_repo(layers: int = 4, width: int = 4, *, seed: int = 0,
                     jar_size: int = 2048) -> Repo:
    """A layered graph of POM-like pages: parents, dependencies, one jar each, some cycles."""
    rng = random.Random(seed)
    names = [[f"l{d}/p{i}.pom" for i in range(width if d else 1)] for d in range(layers)]
    links: dict[str, list[tuple[str, str]]] = {}
    for d, layer in enumerate(names):
        for name in layer:
            out: list[tuple[str, str]] = []
            if d + 1 < layers:
                for child in rng.sample(names[d + 1], k=min(2, len(names[d + 1]))):
                    out.append(("dependency", child))
            if d >= 2 and rng.random() < 0.5:
                out.append(("parent", rng.choice(names[d - 1])))  # loops back up
            out.append(("jar", name.replace(".pom", ".jar")))
            links[name] = out
    files: dict[str, StaticFile] = {}
    expected = Expected()
    for name, out in links.items():
        body = "".join(f"{rel} {target}\n" for rel, target in out).encode()
        files[name] = StaticFile(body, "text/plain")
        jar_body = hashlib.sha256(name.encode()).digest() * (jar_size // 32)
        files[name.replace(".pom", ".jar")] = StaticFile(jar_body)
    depth = {names[0][0]: 0}
    queue = deque([names[0][0]])
    while queue:
        name = queue.popleft()
        for rel, target in links.get(name, []):
            key = f"demo.{'jar' if rel == 'jar' else 'pom'}:{target}"
            if target not in depth:
                depth[target] = depth[name] + 1
                if rel != "jar":
                    queue.append(target)
            expected.edges.add((f"demo.pom:{name}", key, rel))
    for name, d in depth.items():
        kind = "demo.jar" if name.endswith(".jar") else "demo.pom"
        body = files[name].body
        expected.add_unit(ExpectedUnit(f"{kind}:{name}", kind, d, [ExpectedArtifact(
            name, hashlib.sha256(body).hexdigest(), len(body), name)]))
    return Repo(files, expected)


class LinkedPages(Remote):
    """Pages listing ``relation path`` lines; ``jar`` lines are leaves."""

    def __init__(self, base_url: str, start: str = "l0/p0.pom", **kwargs) -> None:
        super().__init__(**kwargs)
        self.base_url, self.start = base_url, start

    def unit(self, path: str, relation: str | None) -> DeclarativeContent:
        content = Jar(path) if relation == "jar" else Pom(path)
        return DeclarativeContent(content, [DeclarativeArtifact(self.base_url + path, path)],
                                  relation=relation)

    def has_children(self, dc: DeclarativeContent) -> bool:
        return isinstance(dc.content, Pom)

    async def roots(self, ctx):
        yield self.unit(self.start, None)

    async def discover(self, ctx, unit, dc):
        for line in dc.artifacts[unit.path].read_bytes().decode().splitlines():
            relation, path = line.split()
            yield self.unit(path, relation)


class Flat(Remote):
    """``n`` flat units without artifacts: a run that costs no network."""

    def __init__(self, n: int, **kwargs) -> None:
        super().__init__(**kwargs)
        self.n = n

    async def roots(self, ctx):
        for i in range(self.n):
            yield DeclarativeContent(Item(f"u{i:06d}"))

    def has_children(self, dc: DeclarativeContent) -> bool:
        return False
