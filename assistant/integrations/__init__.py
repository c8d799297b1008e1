"""Ways in for other frameworks: our retrieval and answers as their building blocks
(``llama_index.py``: a llama-index retriever, query engine and chat engine).

A way in like ``assistant/web/`` and ``assistant/cli.py``: may import the library face
(``assistant.client``) and every room below it, and nothing that imports it.
"""
