"""File readers and writers: SONATA nodes/edges and their attributes (types CSV merged), morphologies, spikes, reports.

May import engine.errors and libraries only (h5py, libsonata, morphio); never managers, dialects or config.
"""
