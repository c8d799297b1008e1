"""What is stored: the Chroma collection of chunks (embedded or a server), the manifest of
documents it holds, and the keyword (BM25) index beside it.

May import the core and ``assistant.embed``.
"""
