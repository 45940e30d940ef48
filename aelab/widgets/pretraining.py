"""Dashboard `12-pretraining`: `lecture-pretraining` (its smoke or teach preset, the hybrid loss's
alpha as a control); views: test errors per arm, trajectories in function space (Isomap), and the
test error during fine-tuning."""

from __future__ import annotations

import ipywidgets as W

from aelab.viz.pretraining import error_curves, error_distribution, function_space
from aelab.widgets.base import WIDE
from aelab.widgets.experiment import ExperimentApp

INTRO = ("Many networks of one architecture are trained from random weights, after greedy layer-wise denoising "
         "pretraining, and after greedy supervised layer-wise pretraining. Pretraining should lower both the mean "
         "and the spread of their test errors, and sends the networks to a different region of function space "
         "(Erhan et al. 2010). α adds α × the first layer's reconstruction error to the fine-tuning loss: the "
         "hybrid L_discriminative + α L_generative; α = 0 is plain supervised training.")


def PretrainingApp(**kwargs) -> ExperimentApp:
    alpha = W.FloatSlider(min=0.0, max=2.0, step=0.1, description="hybrid weight α", continuous_update=False,
                          style=WIDE, tooltip="weight of the reconstruction term in fine-tuning (0 = plain supervised)")
    views = {"test errors": lambda result, arrays: error_distribution(arrays),
             "function space": lambda result, arrays: function_space(arrays),
             "error during fine-tuning": lambda result, arrays: error_curves(arrays)}
    return ExperimentApp("lecture-pretraining", title="Unsupervised pretraining", intro=INTRO,
                         controls={"alpha": alpha}, views=views, **kwargs)
