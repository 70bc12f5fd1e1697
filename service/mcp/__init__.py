"""The MCP front end: the tools, over stdio (``shisaku mcp``); HTTP mounts them at ``/mcp``."""
