"""A fixture Debian archive: ``dists/<dist>/{Release,InRelease,Release.gpg}``, Packages
indexes (plain, ``.gz``, ``.xz``) and ``.deb`` files under ``pool/``.

Layout and fields follow the Debian repository format: the Release file is deb822 with
Origin, Label, Suite, Codename, Version, Date (RFC 2822, UTC), Architectures, Components,
Description, then ``MD5Sum:`` and ``SHA256:`` lines `` <hash> <size, right-aligned>
<path>``. Choices to know:

- by default InRelease is the Release text clearsigned *in form only*: the signature
  block is a fixed dummy, no cryptography. With ``signed=True`` InRelease and
  Release.gpg are real signatures by the test key ``signing_keys().fingerprint()``
  (made with gpg, see `stagekit.testing.debian_signing`), and `DebRepo.tamper_signature`
  breaks them the ways an attacker or a broken mirror would;
- packages of architecture ``all`` are listed in every ``binary-<arch>/Packages`` (as
  Debian does with ``No-Support-for-Architecture-all: Packages``); there is no
  ``binary-all``; such a package is one expected unit with one edge per index;
- like Debian, the Release lists the uncompressed ``Packages`` hashes even when only
  compressed variants are served (``release_lists_plain``): clients must try variants;
- the expected artifact of an index is its best served variant (xz, then gz, then plain).
"""

from __future__ import annotations

import dataclasses
import gzip
import hashlib
import lzma
import math
from collections.abc import Sequence
from datetime import UTC, datetime

from stagekit.testing.debian_packages import DebPackage, generate_packages
from stagekit.testing.debian_signing import signing_keys
from stagekit.testing.repo import Expected, ExpectedArtifact, ExpectedUnit, Repo, StaticFile

__all__ = ["TAMPERINGS", "DebRepo", "make_deb_repo"]

VARIANTS = {"xz": ".xz", "gz": ".gz", "plain": ""}
TAMPERINGS = ("bad-signature", "missing-signature", "other-key", "modified")
_CONTENT_TYPES = {"xz": "application/x-xz", "gz": "application/gzip", "plain": "text/plain"}
_DEB_TYPE = "application/vnd.debian.binary-package"
_SIGNATURE = ("-----BEGIN PGP SIGNATURE-----\n\n"
              "iQIzBAEBCAAdFiEEU3RhZ2VraXQgZml4dHVyZSBzaWduYXR1cmUgLSBub3QgcmVhbAo=\n"
              "=FAKE\n-----END PGP SIGNATURE-----\n")


class DebRepo(Repo):
    """A generated Debian archive; content-fault methods break it for bad-input tests.

    ``packages[(component, arch)]`` are the stanzas of each index in order;
    ``expected`` follows content changes (`drop_sha256`) but not served-bytes faults.
    """

    def __init__(self, dist: str, components: Sequence[str], architectures: Sequence[str],
                 by_component: dict[str, list[DebPackage]], debs: dict[str, bytes], *,
                 variants: Sequence[str], release_lists_plain: bool, date: datetime,
                 expected_release: str, signed: bool = False) -> None:
        super().__init__()
        self.signed = signed
        unknown = set(variants) - set(VARIANTS)
        if unknown or not variants:
            raise ValueError(f"variants must be some of {sorted(VARIANTS)}, got {variants!r}")
        self.dist = dist
        self.components = list(components)
        self.architectures = list(architectures)
        self.variants = list(variants)
        self.release_lists_plain = release_lists_plain
        self.acquire_by_hash = False
        self.date = date
        self.expected_release = expected_release
        self.packages: dict[tuple[str, str], list[DebPackage]] = {
            (comp, arch): [p for p in by_component[comp] if p.architecture in (arch, "all")]
            for comp in self.components for arch in self.architectures}
        for filename, body in debs.items():
            self.files[filename] = StaticFile(body, _DEB_TYPE)
        self._index_hashes: dict[str, tuple[str, str, int]] = {}  # path -> md5, sha256, size
        for comp, arch in self.packages:
            self._write_index(comp, arch)
        self._write_release()

    def entry_path(self) -> str:
        """The distribution directory holding Release and InRelease."""
        return f"dists/{self.dist}/"

    def index_path(self, component: str, arch: str, variant: str = "plain") -> str:
        """URL path of a Packages index variant."""
        return (f"dists/{self.dist}/{component}/binary-{arch}/Packages"
                f"{VARIANTS[variant]}")

    def release_text(self) -> str:
        """The Release file as served."""
        return self.files[f"dists/{self.dist}/Release"].body.decode()

    def corrupt_variant(self, component: str, arch: str, variant: str) -> None:
        """Flip one byte of a served index variant: it no longer matches the Release."""
        path = self.index_path(component, arch, variant)
        body = bytearray(self.files[path].body)
        body[len(body) // 2] ^= 0x01
        self.files[path] = StaticFile(bytes(body), self.files[path].content_type)

    def release_mismatch_all(self, component: str, arch: str) -> None:
        """Corrupt every served variant of one index."""
        for variant in self.variants:
            self.corrupt_variant(component, arch, variant)

    def truncate_packages(self, component: str, arch: str, variant: str | None = None,
                          keep: float = 0.5) -> None:
        """Serve only the first ``keep`` fraction of an index variant (all if None);
        the Release still gives the full size and hashes."""
        for name in [variant] if variant is not None else self.variants:
            path = self.index_path(component, arch, name)
            body = self.files[path].body
            self.files[path] = StaticFile(body[: int(len(body) * keep)],
                                          self.files[path].content_type)

    def drop_sha256(self, package: str, arch: str | None = None) -> int:
        """Remove the SHA256 field of ``package``'s stanzas (of ``arch`` if given) and
        rewrite the indexes and Release consistently; returns how many stanzas changed."""
        def hit(p: DebPackage) -> bool:
            return p.name == package and (arch is None or p.architecture in (arch, "all"))

        changed = [index for index, packages in self.packages.items()
                   if any(hit(p) for p in packages)]
        for index in changed:
            for p in self.packages[index]:
                if hit(p):
                    p.has_sha256 = False
        for comp, index_arch in changed:
            self._write_index(comp, index_arch)
        self._write_release()
        return sum(1 for index in changed for p in self.packages[index] if hit(p))

    def announce_by_hash(self) -> None:
        """Say ``Acquire-By-Hash: yes`` in the Release without serving any by-hash file
        (as a mirror that lags behind does): clients get a 404 there, then use the path."""
        self.acquire_by_hash = True
        self._write_release()

    def upgrade(self, component: str, arch: str, name: str, version: str) -> DebPackage:
        """Replace the ``arch`` package ``name`` of one index by ``version`` (no epoch),
        with a new ``.deb`` (served when the archive serves them); the index and Release
        are rewritten, the other indexes are unchanged. Returns the new package."""
        packages = self.packages[(component, arch)]
        at = next(i for i, p in enumerate(packages)
                  if p.name == name and p.architecture == arch)
        old = packages[at]
        body = self.files[old.filename].body + b"\0" if old.filename in self.files else b""
        if not body:  # an archive generated without .deb files: a stand-in's digests
            body = f"{name} {version}".encode()
        filename = f"{old.filename.rsplit('/', 1)[0]}/{name}_{version}_{arch}.deb"
        new = dataclasses.replace(old, version=version, filename=filename, size=len(body),
                                  md5=hashlib.md5(body).hexdigest(),
                                  sha256=hashlib.sha256(body).hexdigest())
        if old.filename in self.files:
            self.files[filename] = StaticFile(body, _DEB_TYPE)
        packages[at] = new
        self._write_index(component, arch)
        self._write_release()
        return new

    def _write_index(self, component: str, arch: str) -> None:
        plain = "\n".join(p.stanza() for p in self.packages[(component, arch)]).encode()
        big = len(plain) > 4_000_000  # fast presets keep the 60,000-stanza case in seconds
        bodies = {"plain": plain}
        if "gz" in self.variants:
            bodies["gz"] = gzip.compress(plain, compresslevel=1 if big else 9, mtime=0)
        if "xz" in self.variants:
            bodies["xz"] = lzma.compress(plain, preset=0 if big else 6)
        for variant, body in bodies.items():
            path = self.index_path(component, arch, variant)
            listed = variant in self.variants or (variant == "plain" and
                                                  self.release_lists_plain)
            if variant in self.variants:
                self.files[path] = StaticFile(body, _CONTENT_TYPES[variant])
            if listed:
                self._index_hashes[path] = (hashlib.md5(body).hexdigest(),
                                            hashlib.sha256(body).hexdigest(), len(body))
        release = (f"Archive: {self.dist}\nOrigin: Stagekit\nLabel: Stagekit\n"
                   f"Component: {component}\nArchitecture: {arch}\n").encode()
        release_path = f"dists/{self.dist}/{component}/binary-{arch}/Release"
        self.files[release_path] = StaticFile(release, "text/plain")
        self._index_hashes[release_path] = (hashlib.md5(release).hexdigest(),
                                            hashlib.sha256(release).hexdigest(), len(release))

    def _write_release(self) -> None:
        prefix = f"dists/{self.dist}/"
        entries = sorted((path.removeprefix(prefix), digests)
                         for path, digests in self._index_hashes.items())
        lines = [
            "Origin: Stagekit", "Label: Stagekit", f"Suite: {self.dist}",
            f"Codename: {self.dist}", "Version: 12.5",
            f"Date: {self.date.astimezone(UTC).strftime('%a, %d %b %Y %H:%M:%S UTC')}",
            f"Acquire-By-Hash: {'yes' if self.acquire_by_hash else 'no'}",
            "No-Support-for-Architecture-all: Packages",
            f"Architectures: {' '.join(self.architectures)}",
            f"Components: {' '.join(self.components)}",
            f"Description: Stagekit fixture archive {self.dist}", "MD5Sum:",
        ]
        lines += [f" {md5} {size:>16} {path}" for path, (md5, _, size) in entries]
        lines.append("SHA256:")
        lines += [f" {sha} {size:>16} {path}" for path, (_, sha, size) in entries]
        text = "\n".join(lines) + "\n"
        self.files[prefix + "Release"] = StaticFile(text.encode(), "text/plain")
        if self.signed:
            keys = signing_keys()
            self._serve_signatures(keys.clearsign(text.encode()),
                                   keys.detach_sign(text.encode()))
        else:
            self._serve_signatures(_clearsign(text).encode(), _SIGNATURE.encode())
        self.expected = self._build_expected()

    def _serve_signatures(self, inrelease: bytes, release_gpg: bytes | None) -> None:
        prefix = f"dists/{self.dist}/"
        self.files[prefix + "InRelease"] = StaticFile(inrelease, "text/plain")
        if release_gpg is None:
            self.files.pop(prefix + "Release.gpg", None)
        else:
            self.files[prefix + "Release.gpg"] = StaticFile(release_gpg,
                                                            "application/pgp-signature")

    def tamper_signature(self, how: str) -> None:
        """Break InRelease and Release.gpg of a ``signed`` archive; ``how`` is one of
        `TAMPERINGS`: a signature by the archive key of other bytes (``bad-signature``),
        an unsigned InRelease and no Release.gpg (``missing-signature``), signatures by a
        key not in the archive's keyring (``other-key``), or the Release text changed after
        signing, both in InRelease and Release (``modified``)."""
        if how not in TAMPERINGS:
            raise ValueError(f"how must be one of {TAMPERINGS}, got {how!r}")
        keys = signing_keys()
        prefix = f"dists/{self.dist}/"
        text = self.files[prefix + "Release"].body
        inrelease = self.files[prefix + "InRelease"].body
        marker = b"-----BEGIN PGP SIGNATURE-----"
        if how == "bad-signature":
            forged = keys.clearsign(text + b"X-Tampered: yes\n")
            graft = inrelease[: inrelease.index(marker)] + forged[forged.index(marker):]
            self._serve_signatures(graft, keys.detach_sign(text + b"\n"))
        elif how == "missing-signature":
            self._serve_signatures(text, None)
        elif how == "other-key":
            self._serve_signatures(keys.clearsign(text, "other"),
                                   keys.detach_sign(text, "other"))
        else:
            before, after = b"Label: Stagekit\n", b"Label: Stagekit\nX-Injected: evil\n"
            self.files[prefix + "Release"] = StaticFile(text.replace(before, after, 1),
                                                        "text/plain")
            self._serve_signatures(inrelease.replace(before, after, 1),
                                   self.files[prefix + "Release.gpg"].body)

    def _build_expected(self) -> Expected:
        expected = Expected()
        prefix = f"dists/{self.dist}/"
        release_path = prefix + self.expected_release
        release = self.files[release_path].body
        root = f"deb.release:{self.dist}"
        expected.add_unit(ExpectedUnit(root, "deb.release", 0, [_artifact(release_path, release)]))
        best = next(v for v in VARIANTS if v in self.variants)
        for (comp, arch), packages in self.packages.items():
            path = self.index_path(comp, arch, best)
            key = f"deb.packages:{comp}:{arch}"
            expected.add_unit(ExpectedUnit(key, "deb.packages", 1, [
                _artifact(path, self.files[path].body)]))
            expected.edges.add((root, key, "index"))
            for p in packages:
                expected.add_unit(ExpectedUnit(p.key, "deb.package", 2, [ExpectedArtifact(
                    p.filename, p.sha256, p.size, p.filename, deferred=True)]))
                expected.edges.add((key, p.key, "package"))
        return expected


def _artifact(path: str, body: bytes) -> ExpectedArtifact:
    return ExpectedArtifact(path, hashlib.sha256(body).hexdigest(), len(body), path)


def _clearsign(text: str) -> str:
    # Dash-escaping (RFC 4880 7.1) is kept so the form is right should a line start with "-".
    escaped = "".join("- " + line if line.startswith("-") else line
                      for line in text.splitlines(keepends=True))
    return f"-----BEGIN PGP SIGNED MESSAGE-----\nHash: SHA256\n\n{escaped}{_SIGNATURE}"


def make_deb_repo(dist: str = "stable", components: Sequence[str] = ("main", "contrib"),
                  architectures: Sequence[str] = ("amd64", "arm64"), *, packages: int = 6,
                  n_packages: int | None = None, deb_size: int | tuple[int, int] = (256, 2048),
                  with_debs: bool = True, variants: Sequence[str] = ("xz", "gz", "plain"),
                  arch_all_every: int = 5, release_lists_plain: bool = True,
                  date: datetime | None = None, expected_release: str = "Release",
                  seed: int = 0, signed: bool = False) -> DebRepo:
    """Generate an archive with ``packages`` stanzas per index (per component and arch).

    ``n_packages`` (total stanzas over all indexes) overrides ``packages`` for scale runs;
    pair it with ``with_debs=False`` (no ``.deb`` served; Size and hashes then describe a
    tiny stand-in). Every ``arch_all_every``-th package is ``Architecture: all`` (0: none).
    ``expected_release`` ("Release" or "InRelease") is the root unit's artifact.
    ``signed=True`` signs InRelease and Release.gpg with the test key (needs gpg).
    """
    if n_packages is not None:
        packages = math.ceil(n_packages / (len(components) * len(architectures)))
    by_component, debs = generate_packages(components, architectures, packages, deb_size,
                                           with_debs, arch_all_every, seed)
    return DebRepo(dist, components, architectures, by_component, debs, variants=variants,
                   release_lists_plain=release_lists_plain,
                   date=date or datetime(2024, 1, 1, tzinfo=UTC),
                   expected_release=expected_release, signed=signed)
