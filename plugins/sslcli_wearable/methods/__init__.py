"""Pretraining methods of the wearable plugin: one module per method."""
