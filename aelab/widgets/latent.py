"""Dashboard: the latent space of a denoising autoencoder, projected to 2-D.

Runs the `lecture-latent` experiment (`aelab.experiments.lecture_demos.run_latent`, its preset
for the lab's scale) for the codes of test images. PCA of the codes is drawn at once; t-SNE
and UMAP run off the UI thread with a progress bar and are cached on disk keyed by the
experiment's configuration and the method (UMAP's first import compiles with numba for ~30 s
on 2 cores; a cached embedding opens instantly). Hovering over a point shows its image: the
images are sent to the page once (`images_script`) and a small script of the static figure
draws the hovered one on a canvas, so no kernel round trip (and no FigureWidget) is involved.
"""

from __future__ import annotations

import base64
import dataclasses
import json
import uuid

import ipywidgets as W
import numpy as np

from aelab.experiments import get
from aelab.experiments.lecture_demos import run_latent
from aelab.viz.latent import METHOD_NAMES, embed_2d, latent_scatter
from aelab.widgets.base import TOGGLES, App, Runner, StaticFigure, header
from aelab.widgets.experiment import job_context

EXPERIMENT = "lecture-latent"
SOURCES = ("autoencoder codes", "raw pixels")
THUMB_PX = 200


def images_script(images: np.ndarray, name: str) -> str:
    """A script that stores the images (N x H x W in [0, 1], as bytes) in `window[name]`."""
    images = np.asarray(images, dtype=np.float32)
    raw = (np.clip(images, 0, 1) * 255).round().astype(np.uint8).tobytes()
    return (f"<script type='text/javascript'>window[{json.dumps(name)}]={{n:{len(images)},h:{images.shape[1]},"
            f"w:{images.shape[2]},data:{json.dumps(base64.b64encode(raw).decode())}}};</script>")


def hover_js(name: str, canvas_id: str, caption_id: str, labels: np.ndarray) -> str:
    """Runs once the scatter is drawn (`el`): on hover, draw the image `customdata` on the canvas."""
    return ("var labels=" + json.dumps([int(v) for v in labels]) + ";"
            "el.on('plotly_hover',function(ev){var p=ev.points&&ev.points[0];var store=window[" + json.dumps(name)
            + "];if(!p||!store){return;}var i=p.customdata;if(Array.isArray(i)){i=i[0];}"
            "var c=document.getElementById(" + json.dumps(canvas_id) + ");if(!c){return;}"
            "if(!store.bytes){var s=atob(store.data);store.bytes=new Uint8Array(s.length);"
            "for(var k=0;k<s.length;k++){store.bytes[k]=s.charCodeAt(k);}}"
            "c.width=store.w;c.height=store.h;var ctx=c.getContext('2d');var im=ctx.createImageData(store.w,store.h);"
            "var off=i*store.w*store.h;for(var q=0;q<store.w*store.h;q++){var v=store.bytes[off+q];"
            "im.data[4*q]=v;im.data[4*q+1]=v;im.data[4*q+2]=v;im.data[4*q+3]=255;}ctx.putImageData(im,0,0);"
            "var cap=document.getElementById(" + json.dumps(caption_id) + ");"
            "if(cap){cap.textContent='image #'+i+', class '+labels[i];}});")


class LatentApp(App):
    """Codes of test images in 2-D (PCA / t-SNE / UMAP), coloured by class, thumbnail on hover."""

    def __init__(self, scale: str | None = None, device="auto", autostart: bool = True):
        self.setup(scale, device)
        self.config = get(EXPERIMENT).config(self.scale)
        self.method = W.ToggleButtons(options=[(METHOD_NAMES[m], m) for m in ("pca", "tsne", "umap")], value="pca",
                                      description="projection", style=TOGGLES,
                                      tooltips=["principal components: instant, linear",
                                                "t-SNE: keeps neighbours together (seconds, cached)",
                                                "UMAP: like t-SNE, keeps more global shape (the first one compiles "
                                                "for ~30 s; cached)"])
        self.source = W.ToggleButtons(options=SOURCES, value=SOURCES[0], description="points",
                                      style=TOGGLES,
                                      tooltips=["the autoencoder's codes of the test images",
                                                "the raw pixels of the same images, for comparison"])
        self.runner = Runner("working")
        self.arrays: dict[str, np.ndarray] | None = None
        self._pca: dict[str, np.ndarray] = {}  # PCA of each source's points, for instant switches
        self._images_name = f"aelab_latent_{uuid.uuid4().hex}"
        self.images = W.Output(layout=W.Layout(height="0px", overflow="hidden"))  # the hover images, sent once
        self.fig = StaticFigure(latent_scatter(np.zeros((0, 2)), np.zeros(0), method="pca",
                                               title="Codes will appear here once the autoencoder is trained"))
        self.runner.figures = [self.fig]
        self.method.observe(lambda _: self.project(), names="value")
        self.source.observe(lambda _: self.project(), names="value")
        intro = ("Each dot is a test image, placed by its code (the hidden units of a denoising autoencoder) "
                 "projected to 2-D. Same-class images that land together mean the code separates classes without "
                 "ever seeing a label. Compare with raw pixels; hover over a dot to see its image.")
        self.explain = W.HTML("<div style='color:#555;max-width:60em'><b>nearest-neighbour error</b> (in the "
                              "title): the share of test images whose closest other image, measured on these points "
                              "before projecting, has another class (lower = classes better separated).</div>")
        super().__init__([header("Latent space explorer", intro, self.device), self.images, W.HBox([self.method]),
                          self.source, self.runner.widget, self.fig, self.explain])
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
        self._pca = {}
        self.images.outputs = ({"output_type": "display_data", "metadata": {},
                                "data": {"text/plain": "", "text/html": images_script(arrays["images"],
                                                                                      self._images_name)}},)
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
        if method == "pca":  # computed once per source, then every switch only redraws
            if source not in self._pca:
                self._pca[source] = embed_2d(self._points(), "pca")
            self.draw(self._pca[source], method, source)
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
        key = uuid.uuid4().hex
        canvas_id, caption_id = f"aelab-thumb-{key}", f"aelab-caption-{key}"
        thumb = (f"<div class='aelab-thumbnail' style='flex:0 0 {THUMB_PX}px;padding-top:60px'>"
                 f"<canvas id='{canvas_id}' width='8' height='8' style='width:{THUMB_PX}px;height:{THUMB_PX}px;"
                 f"image-rendering:pixelated;background:#eee;border:1px solid #ccc'></canvas>"
                 f"<div id='{caption_id}' style='font-size:14px;color:#333'>hover over a point to see its image</div>"
                 f"</div>")
        self.fig.show(fig, after_js=hover_js(self._images_name, canvas_id, caption_id, self.arrays["labels"]),
                      extra_html=thumb)
