"""Measurements on trained models: Parzen windows, sampling chains, probes, inversion."""
