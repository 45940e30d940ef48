"""Dashboard: the latent space of a denoising autoencoder, projected to 2-D.

PCA of the codes is drawn at once; t-SNE and UMAP run off the UI thread with a progress
bar and are cached on disk keyed by the model's configuration and the method (UMAP's first
import compiles with numba for ~30 s on 2 cores; a cached embedding opens instantly).
Hovering over a point shows its image.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import ipywidgets as W
import numpy as np
import torch


from aelab.models.dense import Autoencoder
from aelab.train.loop import FitConfig, fit
from aelab.viz.latent import METHOD_NAMES, embed_2d, latent_scatter, thumbnail
from aelab.widgets.base import App, Runner, figure_widget, header, load_flat, refresh_figure, stop_hook


@dataclass(frozen=True)
class LatentConfig:
    dataset: str = "mnist"
    n_train: int = 3000
    n_points: int = 1000
    hidden: int = 64
    noise: float = 0.25
    epochs: int = 3
    seed: int = 0


PRESETS = {"teach": LatentConfig(),
           "smoke": LatentConfig(dataset="digits", n_train=300, n_points=150, hidden=16, epochs=1)}
SOURCES = ("autoencoder codes", "raw pixels")


def train_codes(config: LatentConfig, device, job=None) -> dict[str, np.ndarray]:
    """Train a tied sigmoid DAE (masking noise) and return test codes, images and labels."""
    x, _, shape = load_flat(config.dataset, "train", config.n_train, device, seed=config.seed)
    xt, yt, _ = load_flat(config.dataset, "test", config.n_points, device, seed=config.seed)
    model = Autoencoder(x.shape[1], config.hidden, noise=("masking", config.noise),
                        generator=torch.Generator().manual_seed(config.seed)).to(device)

    fit(model, model.loss, x, FitConfig(epochs=config.epochs, batch_size=20, optimizer="sgd", lr=0.1),
        generator=torch.Generator(device=device).manual_seed(config.seed + 1), check_stop=stop_hook(job),
        progress=job.progress if job is not None else None, description="training the autoencoder")
    with torch.no_grad():
        codes = model.encode(xt).cpu().numpy()
    return {"codes": codes, "pixels": xt.cpu().numpy(), "labels": yt, "images": xt.cpu().numpy().reshape(-1, *shape)}


class LatentApp(App):
    """Codes of test images in 2-D (PCA / t-SNE / UMAP), coloured by class, thumbnail on hover."""

    def __init__(self, scale: str | None = None, device="auto", autostart: bool = True):
        self.setup(scale, device)
        self.config = PRESETS[self.scale]
        self.method = W.ToggleButtons(options=[(METHOD_NAMES[m], m) for m in ("pca", "tsne", "umap")], value="pca",
                                      description="projection")
        self.source = W.ToggleButtons(options=SOURCES, value=SOURCES[0], description="points")
        self.runner = Runner("working")
        self.arrays: dict[str, np.ndarray] | None = None
        self.fig = figure_widget(latent_scatter(np.zeros((0, 2)), np.zeros(0), method="pca",
                                                title="Codes will appear here once the autoencoder is trained"))
        self.thumb = figure_widget(thumbnail(None))
        self.runner.figures = [self.fig]
        self.method.observe(lambda _: self.project(), names="value")
        self.source.observe(lambda _: self.project(), names="value")
        intro = ("Each dot is a test image, placed by its code (the hidden units of a denoising autoencoder) "
                 "projected to 2-D. Same-class images that land together mean the code separates classes without "
                 "ever seeing a label. Compare with raw pixels; hover over a dot to see its image.")
        super().__init__([header("Latent space explorer", intro, self.device), W.HBox([self.method]), self.source,
                          self.runner.widget, W.HBox([self.fig, self.thumb])])
        if autostart:
            self.prepare()

    def prepare(self) -> None:
        self.cached_or_start("latent-codes", self.config, lambda job: train_codes(self.config, self.device, job),
                             self._use_codes, label="training the autoencoder…", cached_status="codes loaded from cache")

    def _use_codes(self, arrays: dict[str, np.ndarray]) -> None:
        self.arrays = arrays
        self.project()

    def _points(self) -> np.ndarray:
        return self.arrays["codes"] if self.source.value == SOURCES[0] else self.arrays["pixels"]

    def project(self) -> None:
        """PCA is drawn at once; t-SNE and UMAP come from the cache or a background run."""
        if self.arrays is None:
            return
        method, source = self.method.value, self.source.value
        key = {"codes": dataclasses.asdict(self.config), "source": source, "method": method}
        if method == "pca":
            self.draw(embed_2d(self._points(), "pca"), method, source)
            return
        points = self._points()

        def task(job):
            job.progress(0, 1, f"computing {METHOD_NAMES[method]} of {len(points)} points"
                               + (" (the first UMAP in a session compiles for ~30 s)" if method == "umap" else ""))
            return {"points": embed_2d(points, method, seed=self.config.seed)}

        def show(arrays):
            if (self.method.value, self.source.value) == (method, source):  # not switched away meanwhile
                self.draw(arrays["points"], method, source)

        self.cached_or_start("latent-embedding", key, task, show, label=f"computing {METHOD_NAMES[method]}…",
                             cached_status=f"{METHOD_NAMES[method]} loaded from cache")

    def draw(self, points: np.ndarray, method: str, source: str) -> None:
        what = "codes" if source == SOURCES[0] else "raw pixels"
        fig = latent_scatter(points, self.arrays["labels"], method=method,
                             title=f"{what.capitalize()} of {len(points)} test images, {METHOD_NAMES[method]}")
        refresh_figure(self.fig, fig)
        for trace in self.fig.data:
            trace.on_hover(self._hover)

    def _hover(self, trace, points, state) -> None:
        if not points.point_inds or self.arrays is None:
            return
        index = int(trace.customdata[points.point_inds[0]])
        label = int(self.arrays["labels"][index])
        refresh_figure(self.thumb, thumbnail(self.arrays["images"][index], f"image #{index}, class {label}"))
