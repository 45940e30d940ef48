"""Dashboard: the latent space of a denoising autoencoder, projected to 2-D.

Runs the `lecture-latent` experiment (`aelab.experiments.lecture_demos.run_latent`, its preset
for the lab's scale) for the codes of test images. PCA of the codes is drawn at once; t-SNE
and UMAP run off the UI thread with a progress bar and are cached on disk keyed by the
experiment's configuration and the method (UMAP's first import compiles with numba for ~30 s
on 2 cores; a cached embedding opens instantly). Hovering over a point shows its image.
"""

from __future__ import annotations

import dataclasses

import ipywidgets as W
import numpy as np

from aelab.experiments import get
from aelab.experiments.lecture_demos import run_latent
from aelab.viz.latent import METHOD_NAMES, embed_2d, latent_scatter, thumbnail
from aelab.widgets.base import App, Runner, figure_widget, header, refresh_figure
from aelab.widgets.experiment import job_context

EXPERIMENT = "lecture-latent"
SOURCES = ("autoencoder codes", "raw pixels")


class LatentApp(App):
    """Codes of test images in 2-D (PCA / t-SNE / UMAP), coloured by class, thumbnail on hover."""

    def __init__(self, scale: str | None = None, device="auto", autostart: bool = True):
        self.setup(scale, device)
        self.config = get(EXPERIMENT).config(self.scale)
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
        def task(job):
            result = run_latent(self.config, job_context(job, self.device, self.scale))
            # how well each kind of point separates classes, kept with the arrays for the figure's title
            errors = [result.metrics[f"nearest_neighbour_error_percent_{kind}"] for kind in ("codes", "pixels")]
            return {**result.arrays, "nearest_neighbour_error_percent": np.asarray(errors, np.float32)}

        self.cached_or_start("latent-codes", self.config, task, self._use_codes, label="training the autoencoder…",
                             cached_status="codes loaded from cache")

    def _use_codes(self, arrays: dict[str, np.ndarray]) -> None:
        self.arrays = arrays
        self.project()

    def _points(self) -> np.ndarray:
        if self.source.value == SOURCES[0]:
            return self.arrays["codes"]
        return self.arrays["images"].reshape(len(self.arrays["images"]), -1)

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
            return {"points": embed_2d(points, method, seed=0)}

        def show(arrays):
            if (self.method.value, self.source.value) == (method, source):  # not switched away meanwhile
                self.draw(arrays["points"], method, source)

        self.cached_or_start("latent-embedding", key, task, show, label=f"computing {METHOD_NAMES[method]}…",
                             cached_status=f"{METHOD_NAMES[method]} loaded from cache")

    def draw(self, points: np.ndarray, method: str, source: str) -> None:
        what = "codes" if source == SOURCES[0] else "raw pixels"
        title = f"{what.capitalize()} of {len(points)} test images, {METHOD_NAMES[method]}"
        if "nearest_neighbour_error_percent" in self.arrays:
            error = self.arrays["nearest_neighbour_error_percent"][SOURCES.index(source)]
            title += f" · nearest-neighbour error {error:.1f}%"
        fig = latent_scatter(points, self.arrays["labels"], method=method, title=title)
        refresh_figure(self.fig, fig)
        for trace in self.fig.data:
            trace.on_hover(self._hover)

    def _hover(self, trace, points, state) -> None:
        if not points.point_inds or self.arrays is None:
            return
        index = int(trace.customdata[points.point_inds[0]])
        label = int(self.arrays["labels"][index])
        refresh_figure(self.thumb, thumbnail(self.arrays["images"][index], f"image #{index}, class {label}"))
