"""Measurements on trained models: Parzen windows, sampling chains, probes, inversion,
first-layer filters, linear AE vs PCA subspaces."""
