"""Autoencoder models, one module per family; import them by full path.

- `aelab.models.dense`: one-layer autoencoders (basic, denoising, contractive, sparse) and
  deep stacks of them (Vincent et al. 2008; Zhou et al. eqs. 4-6).
"""
