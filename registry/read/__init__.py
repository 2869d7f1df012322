"""Read-only views of the registry: the page's compounds, training data, stored measurements, runs, counts, integrity."""
