"""Autoencoder models, one module per family; import them by full path.

- `aelab.models.dense`: one-layer autoencoders (basic, denoising, contractive, sparse) and
  deep stacks of them (Vincent et al. 2008; Zhou et al. eqs. 4-6).
- `aelab.models.whatwhere`: the what-where stage and stacked what-where auto-encoders
  (`swwae`, Zhao et al. 2016); `aelab.models.pooling` holds their pooling and unpooling.
- `aelab.models.augmented`: classifiers augmented with decoding pathways built from
  what-where stages (`augmented`, Zhang et al. 2016).
- `aelab.models.registry`: names -> (config, model), `build_model`, `save_model`, `load_model`.
"""
