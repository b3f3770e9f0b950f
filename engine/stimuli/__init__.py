"""Input (stimulus) families, one module each, registered by name."""
