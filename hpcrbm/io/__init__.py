"""HDF5 files: the per-point parallel writer, provenance attributes, inspection."""
