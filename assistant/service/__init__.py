"""The service other programs connect to: the HTTP API (REST, OpenAI-compatible
``/v1/chat/completions``, OpenAPI at ``/docs``) and the MCP server (stdio and streamable HTTP).

A way in, beside the web chat and the CLI: may import the library (``assistant.client``), the
conversation store, ``ingest`` and the web chat's upload handling; the web chat and the CLI
import it to serve it.
"""
