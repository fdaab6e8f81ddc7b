"""Maven remote: POM model, version ordering and ranges, repository metadata and layout."""

from stagekit.remotes.maven.remote import MavenPom, MavenRemote

__all__ = ["MavenPom", "MavenRemote"]
