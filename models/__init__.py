"""Encoders of structures, MS/MS, IR and CCS in one embedding space, their training and
evaluation."""
