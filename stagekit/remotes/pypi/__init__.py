"""PyPI remote: simple-index pages (PEP 503/691), core metadata, requirement resolution."""

from stagekit.remotes.pypi.release import PyPIRelease
from stagekit.remotes.pypi.remote import PyPIRemote

__all__ = ["PyPIRelease", "PyPIRemote"]
