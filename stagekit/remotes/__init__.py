"""Remotes: Discovery subclasses for each kind of remote repository."""
