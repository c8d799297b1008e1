"""The web chat: the Gradio app, how answers and sources are rendered, uploaded files.

A presentation layer: may import everything below it (the library, ``ingest``), nothing imports it
but the CLI.
"""
