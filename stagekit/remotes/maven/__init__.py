"""Maven remote: POM model, version ordering and ranges, repository metadata and layout."""
