"""Evaluation on frozen features: extraction, kNN and linear-probe protocols."""
