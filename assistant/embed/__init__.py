"""Encoders: text to vectors (the packaged sentence-transformers model, its local ONNX export).

May import only the core (``assistant.config``, ``types``, ``errors``, ``text``, ``sentences``).
"""
