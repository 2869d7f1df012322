"""Encoders of structures, MS/MS, IR and CCS in one embedding space, their training and
evaluation. DGL is told its backend here, so no command prints DGL's "backend not selected"
notice."""

import os

if not os.environ.get("DGLBACKEND"):
    os.environ["DGLBACKEND"] = "pytorch"
