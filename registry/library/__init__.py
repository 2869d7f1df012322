"""The MS/MS reference library: the flash entropy index, its scoring kernel, its saved folder, what a match points at, classical scores."""
