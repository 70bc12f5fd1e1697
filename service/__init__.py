"""Load a shisaku-search index and answer queries over HTTP, CLI and MCP."""

__version__ = "0.1.0"
