"""SONATA, morphology and spike-file readers and writers."""
