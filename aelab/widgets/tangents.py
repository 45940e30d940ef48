"""Dashboard `11-tangents`: `lecture-tangents` (its smoke or teach preset, the CAE's weight and the
toy DAE's noise as controls); views: Jacobian spectra, tangent directions, the translation
manifold, the toy DAE/CAE against the score, and the caveat of untied weights."""

from __future__ import annotations

import ipywidgets as W

from aelab.viz.tangents import caveat, jacobian_spectra, score_comparison, tangent_directions, translation_manifold
from aelab.widgets.base import WIDE
from aelab.widgets.experiment import ExperimentApp

INTRO = ("Images of one digit shifted step by step lie on a curve in pixel space: a 1-D manifold. An encoder's "
         "Jacobian J_f(x) says which input directions move the code; a contractive autoencoder keeps few of them, "
         "ideally the tangents of the manifold. A denoising autoencoder with small Gaussian noise σ learns "
         "r(x) − x ≈ σ² ∇log p(x). And with untied weights the contraction penalty can be cheated.")


def TangentsApp(**kwargs) -> ExperimentApp:
    contractive = W.FloatLogSlider(min=-2, max=1, step=0.25, description="CAE weight λ", continuous_update=False,
                                   style=WIDE, tooltip="weight of the CAE's penalty λ‖J_f(x)‖² on MNIST")
    sigma = W.FloatSlider(min=0.02, max=0.5, step=0.02, description="toy DAE noise σ", continuous_update=False,
                          style=WIDE, tooltip="std of the Gaussian noise of the toy DAE")
    views = {"Jacobian spectra": lambda result, arrays: jacobian_spectra(arrays),
             "tangent directions": lambda result, arrays: tangent_directions(arrays),
             "translation manifold": lambda result, arrays: translation_manifold(arrays),
             "DAE vs the score": lambda result, arrays: score_comparison(arrays, result["metrics"],
                                                                         result["config"]["toy_sigma"]),
             "untied CAE caveat": lambda result, arrays: caveat(arrays)}
    return ExperimentApp("lecture-tangents", title="Tangents, contraction and denoising", intro=INTRO,
                         controls={"contractive": contractive, "toy_sigma": sigma}, views=views, **kwargs)
