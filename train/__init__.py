"""Training, calibration and tuning: scripts that fit what the assistant ships (the evidence
model, the support threshold, the fusion weights, the reader) on tune splits only.

Run each as ``python -m train.NAME``. They may import anything in the project; the shipped code
never imports them.
"""
