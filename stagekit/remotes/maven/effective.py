"""The effective POM: a `RawPom` with its parent chain, properties and imported BOMs applied.

Order as Maven's model builder: inheritance on raw values (child wins per
``groupId:artifactId:type:classifier``), then interpolation in the *child's* context (so a
parent's ``${project.version}`` is the child's version), then BOM imports (own and
inherited management first, then each import in declaration order: first entry wins),
then management is injected into dependencies (version, scope, optional, and exclusions
when the dependency has none).

Problems in a dependency (an undefined property, no version) are recorded, not raised:
Maven only fails on them when that dependency is needed, see `children_of`.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from stagekit.errors import MetadataError
from stagekit.limits import DEFAULT_LIMITS, Limits
from stagekit.remotes.maven.coords import Coordinates
from stagekit.remotes.maven.interpolation import InterpolationError, Interpolator
from stagekit.remotes.maven.pom import RawDependency, RawPom

__all__ = [
    "Dependency",
    "EffectivePom",
    "ModelBase",
    "build_effective",
    "finish_effective",
    "management_key",
    "prepare_effective",
]

ManagementKey = tuple[str, str, str, str | None]


@dataclass(frozen=True, slots=True)
class Dependency:
    """An interpolated dependency (or management entry); ``problem`` says why it is unusable."""

    group: str
    artifact: str
    version: str | None
    type: str
    classifier: str | None
    scope: str | None
    optional: bool | None
    exclusions: frozenset[tuple[str, str]]
    where: str
    source_url: str
    problem: str | None = None

    @property
    def key(self) -> ManagementKey:
        """``(groupId, artifactId, type, classifier)``: what management matches on."""
        return (self.group, self.artifact, self.type, self.classifier)


def management_key(group: str, artifact: str, type_: str = "jar", classifier: str | None = None):
    """The management key of a dependency (``ManagementKey``)."""
    return (group, artifact, type_, classifier)


@dataclass(slots=True)
class EffectivePom:
    """The model a POM means once inherited, interpolated and imports applied.

    ``dependencies`` have management applied, ``scope`` defaulted to ``compile`` and
    ``optional`` to False. ``imports`` are the BOM imports this model needed (own and
    inherited), interpolated here. ``raw_*`` are the merged raw values children inherit.
    """

    url: str
    coords: Coordinates
    packaging: str
    parent: Coordinates | None
    relocation: Coordinates | None
    imports: tuple[Dependency, ...]
    management: dict[ManagementKey, Dependency]
    dependencies: tuple[Dependency, ...]
    raw: RawPom
    raw_properties: dict[str, str] = field(default_factory=dict)
    raw_management: tuple[RawDependency, ...] = ()
    raw_dependencies: tuple[RawDependency, ...] = ()
    interpolator: Interpolator | None = None

    @property
    def import_coordinates(self) -> list[Coordinates]:
        """Coordinates of the imported BOMs, in declaration order (versions may be ranges)."""
        return [Coordinates(d.group, d.artifact, d.version or "") for d in self.imports]

    def property(self, name: str) -> str | None:
        """The interpolated value of ``${name}`` in this model (None if undefined)."""
        return self.interpolator.get(name) if self.interpolator else None


def _inherit(own: Iterable[RawDependency], parent: Iterable[RawDependency]):
    merged = list(own)
    present = {d.inheritance_key() for d in merged}
    merged.extend(d for d in parent if d.inheritance_key() not in present)
    return tuple(merged)


# A dependency's fields in `Dependency` order, before management is applied.
_Fields = tuple[str, str, str | None, str, str | None, str | None, bool | None,
                frozenset[tuple[str, str]], str, str, str | None]


def _interpolated(raw: RawDependency, interp: Interpolator) -> _Fields:
    """The fields of ``raw`` interpolated (problems recorded in the last one)."""
    problems: list[str] = []

    def value(text: str | None, part: str) -> str | None:
        if text is None or "${" not in text:
            return text
        try:
            return interp.resolve(text)
        except InterpolationError as e:
            problems.append(f"{raw.where}/{part}: {e}")
            return text

    group = value(raw.group, "groupId")
    artifact = value(raw.artifact, "artifactId")
    if group is None or artifact is None:
        problems.append(f"{raw.where}: groupId and artifactId are required")
    optional = value(raw.optional, "optional")
    exclusions = frozenset(
        (value(g, "exclusions/exclusion/groupId") or "*",
         value(a, "exclusions/exclusion/artifactId") or "*")
        for g, a in raw.exclusions
    )
    return (group or "", artifact or "", value(raw.version, "version"),
            value(raw.type, "type") or "jar", value(raw.classifier, "classifier"),
            value(raw.scope, "scope"), None if optional is None else optional.lower() == "true",
            exclusions, raw.where, raw.source_url, "; ".join(problems) or None)


def _interpolate_dependency(raw: RawDependency, interp: Interpolator) -> Dependency:
    return Dependency(*_interpolated(raw, interp))


def _managed_dependency(raw: RawDependency, interp: Interpolator,
                        management: dict[ManagementKey, Dependency]) -> Dependency:
    """``raw`` interpolated, with management applied (one `Dependency` made, not two)."""
    (group, artifact, version, type_, classifier, scope, optional, exclusions, where,
     source_url, problem) = _interpolated(raw, interp)
    managed = management.get((group, artifact, type_, classifier))
    if managed is not None:
        if version is None:
            version = managed.version
            if managed.problem and problem is None:
                problem = managed.problem
        scope = scope or managed.scope
        optional = managed.optional if optional is None else optional
        exclusions = exclusions or managed.exclusions
    if version is None and problem is None:
        problem = f"{where}/version: is missing and not managed"
    return Dependency(group, artifact, version, type_, classifier, scope or "compile",
                      bool(optional), exclusions, where, source_url, problem)


def _coordinate(raw: RawPom, interp: Interpolator, text: str | None, part: str) -> str:
    if text is None:
        raise MetadataError(
            f"{raw.url}: project/{part} is missing and there is no parent to inherit it from",
            url=raw.url,
            field=part,
        )
    try:
        return interp.resolve(text)
    except InterpolationError as e:
        raise MetadataError(f"{raw.url}: project/{part}: {e}", url=raw.url, field=part) from e


@dataclass(slots=True)
class ModelBase:
    """What `build_effective` knows before the imported BOMs: ``imports`` says which
    BOMs the model needs (own and inherited, interpolated); `finish_effective` applies them."""

    raw: RawPom
    parent: EffectivePom | None
    properties: dict[str, str]
    interp: Interpolator
    coords: Coordinates
    packaging: str
    raw_management: tuple[RawDependency, ...]
    raw_dependencies: tuple[RawDependency, ...]
    management: dict[ManagementKey, Dependency]
    imports: tuple[Dependency, ...]

    @property
    def import_coordinates(self) -> list[Coordinates]:
        """Coordinates of the BOMs to import, in declaration order (versions may be ranges)."""
        return [Coordinates(d.group, d.artifact, d.version or "") for d in self.imports]


def build_effective(
    raw: RawPom, parent: EffectivePom | None = None, imports: Sequence[EffectivePom] = (),
    *, limits: Limits = DEFAULT_LIMITS,
) -> EffectivePom:
    """Build the effective model of ``raw`` from its (effective) parent and imported BOMs.

    ``imports`` are the effective BOMs for ``.imports`` of the model built without them,
    in the same order (build once without, resolve them, build again with them; or
    `prepare_effective`, then `finish_effective` with them, which reads the POM once).
    Raises `MetadataError` naming ``raw.url`` and the element for a missing parent, missing
    or undefined coordinates, or an import without a version.
    """
    return finish_effective(prepare_effective(raw, parent, limits=limits), imports)


def prepare_effective(
    raw: RawPom, parent: EffectivePom | None = None, *, limits: Limits = DEFAULT_LIMITS,
) -> ModelBase:
    """The first half of `build_effective`: coordinates, inheritance, own and inherited
    management, and the BOM imports the model needs (``.imports``)."""
    if raw.parent is not None and parent is None:
        raise MetadataError(f"{raw.url}: the parent POM is needed to build this model", url=raw.url)
    if raw.parent is None and parent is not None:
        raise MetadataError(f"{raw.url}: a parent was given but the POM declares none", url=raw.url)
    properties = {**(parent.raw_properties if parent else {}), **raw.properties}
    model: dict[str, str | None] = {
        # inherit from the parent as resolved (its version may have been a range)
        "groupId": raw.group or (parent.coords.group if parent else None),
        "artifactId": raw.artifact,
        "version": raw.version or (parent.coords.version if parent else None),
        "packaging": raw.packaging or "jar",
        "name": raw.name,
    }
    if parent is not None:
        model["parent.groupId"] = parent.coords.group
        model["parent.artifactId"] = parent.coords.artifact
        model["parent.version"] = parent.coords.version
    interp = Interpolator(properties, model, max_size=limits.property_bytes)
    coords = Coordinates(
        _coordinate(raw, interp, model["groupId"], "groupId"),
        _coordinate(raw, interp, raw.artifact, "artifactId"),
        _coordinate(raw, interp, model["version"], "version"),
    )
    packaging = _coordinate(raw, interp, model["packaging"], "packaging")
    raw_management = _inherit(raw.management, parent.raw_management if parent else ())
    raw_dependencies = _inherit(raw.dependencies, parent.raw_dependencies if parent else ())

    management: dict[ManagementKey, Dependency] = {}
    declared_imports: list[Dependency] = []
    for entry in raw_management:
        dep = _interpolate_dependency(entry, interp)
        if dep.type == "pom" and dep.scope == "import":
            if dep.problem or not dep.version:
                why = dep.problem or f"{dep.where}/version: an import needs a version"
                raise MetadataError(f"{raw.url}: {why}", url=raw.url, field=dep.where)
            declared_imports.append(dep)
        else:
            management.setdefault(dep.key, dep)
    return ModelBase(raw, parent, properties, interp, coords, packaging, raw_management,
                     raw_dependencies, management, tuple(declared_imports))


def finish_effective(base: ModelBase, imports: Sequence[EffectivePom] = ()) -> EffectivePom:
    """The effective model from ``base`` and the effective BOMs of ``base.imports`` (in
    order; none to build it without them). ``base`` is not changed: it may be finished again."""
    raw, parent, interp = base.raw, base.parent, base.interp
    management = base.management
    if imports:
        if len(imports) != len(base.imports):
            raise MetadataError(
                f"{raw.url}: {len(imports)} BOMs given for {len(base.imports)} imports",
                url=raw.url,
            )
        management = dict(management)
        for bom in imports:
            for key, dep in bom.management.items():
                management.setdefault(key, dep)

    dependencies = tuple(
        _managed_dependency(d, interp, management) for d in base.raw_dependencies
    )
    coords = base.coords
    relocation = None
    if raw.relocation is not None:
        r = raw.relocation
        relocation = Coordinates(
            _coordinate(raw, interp, r.group or coords.group, "relocation/groupId"),
            _coordinate(raw, interp, r.artifact or coords.artifact, "relocation/artifactId"),
            _coordinate(raw, interp, r.version or coords.version, "relocation/version"),
        )
    return EffectivePom(
        url=raw.url,
        coords=coords,
        packaging=base.packaging,
        parent=parent.coords if parent else None,
        relocation=relocation,
        imports=base.imports,
        management=management,
        dependencies=dependencies,
        raw=raw,
        raw_properties=base.properties,
        raw_management=base.raw_management,
        raw_dependencies=base.raw_dependencies,
        interpolator=interp,
    )
