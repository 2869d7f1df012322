"""Files into the registry: expand a path into files, parse (parsers/), normalise, store, fingerprint; the run and its rejects."""
