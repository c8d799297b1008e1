"""Benchmarks that print figures (speed, memory, accuracy side by side): run each as
``python -m eval.bench.NAME``. They may import anything in the project; nothing imports them but
their tests.
"""
