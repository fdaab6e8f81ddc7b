"""Binary packages of the fixture Debian archive and their ``Packages`` stanzas.

Names, versions (some with an epoch, which the file name drops, as dpkg does), Depends
(some, with version constraints and alternatives) and descriptions come from one seeded
random stream. Files live in ``pool/<component>/<prefix>/<source>/`` where ``prefix`` is
the source's first letter, or its first four for ``lib*`` sources.
"""

from __future__ import annotations

import hashlib
import random
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from stagekit.testing.debian_deb import full_deb, tiny_deb

__all__ = ["DebPackage", "generate_packages"]

_WORDS = ("amber", "birch", "cedar", "delta", "ember", "fjord", "grove", "heron", "iris",
          "juniper", "kelp", "lumen", "maple", "nectar", "orchid", "pebble", "quartz",
          "raven", "sorrel", "tundra", "umber", "violet", "willow", "xenon", "yarrow", "zephyr")
_SECTIONS = ("utils", "libs", "net", "admin", "devel", "text", "python", "web")
_MAINTAINERS = ("Debian QA Group <packages@qa.example.org>",
                "Jane Doe <jane@example.org>", "Stage Kit Team <team@example.org>")


@dataclass(slots=True)
class DebPackage:
    """One binary package (one architecture, or ``all``) and its stanza fields."""

    name: str
    source: str
    version: str
    architecture: str
    component: str
    maintainer: str
    section: str
    priority: str
    installed_size: int
    depends: str | None
    summary: str
    filename: str
    size: int
    md5: str
    sha256: str
    has_sha256: bool = True

    @property
    def key(self) -> str:
        """The expected unit key ``deb.package:<name>:<version>:<arch>``."""
        return f"deb.package:{self.name}:{self.version}:{self.architecture}"

    def stanza(self) -> str:
        """The ``Packages`` paragraph, fields in the order Debian's archive writes them."""
        lines = [f"Package: {self.name}"]
        if self.source != self.name:
            lines.append(f"Source: {self.source}")
        lines += [f"Version: {self.version}", f"Installed-Size: {self.installed_size}",
                  f"Maintainer: {self.maintainer}", f"Architecture: {self.architecture}"]
        if self.depends:
            lines.append(f"Depends: {self.depends}")
        lines += [f"Description: {self.summary}",
                  f" {self.name} is a generated package of the stagekit fixture archive.",
                  " .",
                  f" It belongs to {self.component} and carries seeded random bytes.",
                  f"Section: {self.section}", f"Priority: {self.priority}",
                  f"Filename: {self.filename}", f"Size: {self.size}", f"MD5sum: {self.md5}"]
        if self.has_sha256:
            lines.append(f"SHA256: {self.sha256}")
        return "\n".join(lines) + "\n"

    def control(self) -> str:
        """The ``./control`` file inside the ``.deb``."""
        fields = [f"Package: {self.name}", f"Version: {self.version}",
                  f"Architecture: {self.architecture}", f"Maintainer: {self.maintainer}",
                  f"Installed-Size: {self.installed_size}"]
        if self.depends:
            fields.append(f"Depends: {self.depends}")
        fields += [f"Section: {self.section}", f"Priority: {self.priority}",
                   f"Description: {self.summary}"]
        return "\n".join(fields) + "\n"


def _pool_dir(component: str, source: str) -> str:
    prefix = source[:4] if source.startswith("lib") else source[0]
    return f"pool/{component}/{prefix}/{source}"


def generate_packages(components: Sequence[str], architectures: Sequence[str],
                      per_component: int, deb_size: int | tuple[int, int], with_debs: bool,
                      arch_all_every: int, seed: int
                      ) -> tuple[dict[str, list[DebPackage]], dict[str, bytes]]:
    """Packages per component (arch-specific ones once per architecture) and .deb bodies.

    Returns ``({component: packages}, {filename: body})``; bodies are only kept when
    ``with_debs`` (otherwise size and hashes describe a `tiny_deb` that is not served).
    """
    rng = random.Random(seed)
    by_component: dict[str, list[DebPackage]] = {}
    bodies: dict[str, bytes] = {}
    for c_index, component in enumerate(components):
        packages: list[DebPackage] = []
        names: list[str] = []
        for i in range(per_component):
            word = _WORDS[(i + c_index) % len(_WORDS)]
            suffix = f"{i}" if component == components[0] else f"{c_index}x{i}"
            if i % 4 == 3:
                source, name = f"lib{word}{suffix}", f"lib{word}{suffix}-1"
            else:
                source = name = f"{word}{suffix}"
            r = rng.random()  # one draw for the whole version: 60,000 packages stay fast
            version = f"{int(r * 10)}.{int(r * 310) % 31}.{int(r * 9973) % 10}-{i % 5 + 1}"
            if i % 7 == 6:
                version = f"1:{version}"
            elif i % 11 == 10:
                version += "+deb12u1"
            depends = _depends(rng, names)
            archs = ["all"] if arch_all_every and i % arch_all_every == arch_all_every - 1 \
                else list(architectures)
            common: dict[str, Any] = {
                "name": name, "source": source, "version": version, "component": component,
                "maintainer": _MAINTAINERS[i % len(_MAINTAINERS)],
                "section": "libs" if name.startswith("lib") else _SECTIONS[i % len(_SECTIONS)],
                "priority": "optional", "installed_size": 8 + int(r * 40961) % 4089,
                "depends": depends, "summary": f"{word} tool number {i} for fixtures",
            }
            file_version = version.partition(":")[2] or version
            for arch in archs:
                filename = f"{_pool_dir(component, source)}/{name}_{file_version}_{arch}.deb"
                package = DebPackage(architecture=arch, filename=filename, size=0, md5="",
                                     sha256="", **common)
                if with_debs:
                    size = deb_size if isinstance(deb_size, int) else rng.randint(*deb_size)
                    body = full_deb(name, package.control(), rng.randbytes(size))
                    bodies[filename] = body
                else:
                    body = tiny_deb(filename)
                package.size = len(body)
                package.md5 = hashlib.md5(body).hexdigest()
                package.sha256 = hashlib.sha256(body).hexdigest()
                packages.append(package)
            names.append(name)
        by_component[component] = packages
    return by_component, bodies


def _depends(rng: random.Random, earlier: list[str]) -> str | None:
    if rng.random() >= 0.4:
        return None
    parts = ["libc6 (>= 2.36)"]  # outside the fixture archive, as real depends often are
    if earlier:
        first = earlier[rng.randrange(len(earlier))]
        if rng.random() < 0.3 and len(earlier) > 1:
            parts.append(f"{first} | {earlier[rng.randrange(len(earlier))]}")
        else:
            parts.append(f"{first} (>= 0.1)")
    return ", ".join(parts)
