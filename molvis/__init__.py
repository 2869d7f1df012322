"""molvis: the command line (`molvis.cli`) and the workflows that the command line, the Dagster
assets and the query page share (`molvis.workflows`). The registry library lives in `registry/`,
the encoders in `models/`; see docs/ARCHITECTURE.md."""
