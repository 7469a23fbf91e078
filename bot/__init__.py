"""Tandem's Slack face: the Bolt app factory, its listeners, Block Kit builders and the CLI."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("tandem")
except PackageNotFoundError:  # running from a source tree that was never installed
    __version__ = "0.0.0+source"
