"""Dashboard `10-stochastic`: the variational autoencoder of `lecture-vae` (its smoke or teach
preset, the code size as a control); views: likelihood bounds beside Parzen numbers, the
samples of four sets, and the 2-D latent map."""

from __future__ import annotations

import ipywidgets as W

from aelab.viz.stochastic import latent_map, likelihoods, sample_sets
from aelab.widgets.base import WIDE
from aelab.widgets.experiment import ExperimentApp

INTRO = ("A variational autoencoder encodes an image into a Gaussian over codes and decodes a code into Bernoulli "
         "pixel probabilities; it is trained on the ELBO, a lower bound on log p(x). The importance-weighted bound "
         "(IWAE) with k samples is tighter. Its samples are shown beside a denoising autoencoder's GSN chain, real "
         "images and k-means centroids, all scored by one Parzen window on the same test images.")


def StochasticApp(**kwargs) -> ExperimentApp:
    latent = W.IntSlider(min=2, max=50, description="code size", continuous_update=False, style=WIDE,
                         tooltip="dimensions of the VAE's Gaussian code (the 2-D map is always a second VAE)")
    views = {"ELBO, IWAE and Parzen": lambda result, arrays: likelihoods(result["metrics"]),
             "samples": lambda result, arrays: sample_sets(arrays, result["metrics"]),
             "2-D latent map": lambda result, arrays: latent_map(arrays)}
    return ExperimentApp("lecture-vae", title="Stochastic autoencoders: the VAE", intro=INTRO,
                         controls={"n_latent": latent}, views=views, **kwargs)
