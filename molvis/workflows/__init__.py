"""Plain-Python workflows shared by the CLI, the Dagster assets and the UI: load a model, train
and register, evaluate, backfill embeddings, build and run a search. They import no Dagster and
take their engine from the caller."""
