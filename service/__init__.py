"""Load a shisaku-search index and answer queries over HTTP, CLI and MCP."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("shisaku-search")  # the one place it is written: pyproject.toml
except PackageNotFoundError:  # running from a source tree that was never installed
    __version__ = "0.0.0+unknown"
