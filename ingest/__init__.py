"""Reading documents into the index: read (one reader per format) -> chunk -> embed -> write.

May import the core, ``assistant.embed`` and ``assistant.index``; never retrieval, answering or
the ways in.
"""
