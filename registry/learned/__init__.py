"""What models leave in the registry: model versions, embeddings, CCS predictions."""
