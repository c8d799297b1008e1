"""Encoders: text to vectors (the packaged sentence-transformers model, its local ONNX export,
or an embedding server: ``remote.py``).

May import only the core (``assistant.config``, ``types``, ``errors``, ``text``, ``sentences``) and
what HTTP clients share (``assistant.llm.http``).
"""
