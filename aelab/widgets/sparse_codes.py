"""Dashboards of the lecture's sparse codes and binary codes (notebooks 08 and 09), each an
`ExperimentApp` over its experiment: controls set config fields, views draw with
`aelab.viz.sparse_codes`.

- `SparseCodingApp`: `lecture-sparse-coding` (λ, atoms, digits or patches); views: objective,
  sparsity and atoms; ours vs scikit-learn; scikit-learn's atoms.
- `PsdApp`: `lecture-psd` (λ, γ); one view: the fast encoder against the sparse codes.
- `HashingApp`: `lecture-hashing` (noise before the sigmoid); views: retrieval vs baselines,
  activation histograms, Hamming balls.
"""

from __future__ import annotations

import ipywidgets as W

from aelab.viz import figure_for_result
from aelab.viz.sparse_codes import activation_histograms, atoms_figure, ball_figure, comparison_figure
from aelab.widgets.base import WIDE
from aelab.widgets.experiment import ExperimentApp


def _sklearn_atoms(result, arrays):
    for kind, name in (("batch", "DictionaryLearning"), ("minibatch", "MiniBatchDictionaryLearning")):
        if f"sklearn_{kind}_atoms" in arrays:
            return atoms_figure(arrays[f"sklearn_{kind}_atoms"], f"scikit-learn {name}: atoms")
    return atoms_figure(arrays["atoms"], "ours: atoms (scikit-learn not run)")


def SparseCodingApp(**kwargs) -> ExperimentApp:
    """Dictionary learning by alternating LASSO (FISTA) and least squares, beside scikit-learn."""
    lam = W.FloatSlider(min=0.1, max=3.0, step=0.1, description="λ", continuous_update=False, style=WIDE,
                        tooltip="weight of the L1 penalty: larger λ, sparser codes, worse reconstructions")
    atoms = W.Dropdown(options=[16, 32, 64, 128], description="atoms", style=WIDE,
                       tooltip="number of atoms (rows of the dictionary D)")
    patches = W.Checkbox(description="patches", indent=False, style=WIDE,
                         tooltip="learn on small patches cut from the digits (atoms look like pen strokes)")
    views = {"objective and atoms": figure_for_result, "vs scikit-learn": comparison_figure,
             "scikit-learn atoms": _sklearn_atoms}
    intro = ("Sparse coding writes every image as a sparse combination w of dictionary rows (atoms): x ≈ wᵀD. "
             "D and the codes W are found by alternating: all codes at once by LASSO (FISTA, batched), then D "
             "by least squares with unit-norm atoms. scikit-learn learns a dictionary on the same data with the "
             "same λ and atoms; every dictionary is scored by the same objective.")
    return ExperimentApp("lecture-sparse-coding", title="Sparse coding: learning a dictionary", intro=intro,
                         controls={"lam": lam, "n_atoms": atoms, "patches": patches}, views=views, **kwargs)


def PsdApp(**kwargs) -> ExperimentApp:
    """Predictive sparse decomposition: a fast encoder trained to predict the sparse codes."""
    lam = W.FloatSlider(min=0.1, max=3.0, step=0.1, description="λ", continuous_update=False, style=WIDE,
                        tooltip="weight of the L1 penalty on the codes")
    gamma = W.FloatSlider(min=0.0, max=5.0, step=0.25, description="γ", continuous_update=False, style=WIDE,
                          tooltip="weight of the prediction term γ‖h − f(x)‖²")
    intro = ("PSD adds a fast encoder f to sparse coding and trains both: ‖x − g(h)‖² + λ‖h‖₁ + γ‖h − f(x)‖². "
             "Afterwards one pass of f replaces the iterative LASSO solver: how close are its codes, and how much "
             "faster is it?")
    return ExperimentApp("lecture-psd", title="Predictive sparse decomposition", intro=intro,
                         controls={"lam": lam, "gamma": gamma}, views={"encoder vs sparse codes": figure_for_result},
                         **kwargs)


def HashingApp(**kwargs) -> ExperimentApp:
    """Semantic hashing: binary codes from noisy sigmoid units, Hamming retrieval vs LSH and PCA + sign."""
    noise = W.FloatSlider(min=0.0, max=10.0, step=0.5, description="noise σ", continuous_update=False, style=WIDE,
                          layout=W.Layout(width="360px"),
                          tooltip="std of the Gaussian noise added to the code units' input in training")
    views = {"retrieval vs baselines": figure_for_result, "activations": activation_histograms,
             "Hamming balls": lambda result, arrays: ball_figure(result)}
    intro = ("An autoencoder with sigmoid code units, trained with noise added just before the sigmoid: to get "
             "through the noise it pushes activations to 0 or 1, so thresholding them loses little. Test digits "
             "are looked up among training digits by Hamming distance; a hit is a digit of the same class.")
    return ExperimentApp("lecture-hashing", title="Semantic hashing", intro=intro, controls={"noise": noise},
                         views=views, **kwargs)
