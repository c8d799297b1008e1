"""Finding passages for a question: dense (Chroma) and keyword (BM25) retrieval, and their fusion.

May import the core, ``assistant.embed`` and ``assistant.index``.
"""
