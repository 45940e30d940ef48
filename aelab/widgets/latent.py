"""Dashboard: the latent space of a denoising autoencoder, projected to 2-D.

Runs the `lecture-latent` experiment (`aelab.experiments.lecture_demos.run_latent`, its preset
for the lab's scale) for the codes of test images. PCA of the codes is drawn at once; t-SNE
and UMAP run off the UI thread with a progress bar and are cached on disk keyed by the
experiment's configuration and the method (UMAP's first import compiles with numba for ~30 s
on 2 cores; a cached embedding opens instantly). Hovering over a point shows its image: the
images are sent to the page once (`images_script`) and a small script of the static figure
draws the hovered one on a canvas, so no kernel round trip (and no FigureWidget) is involved.

It opens on the shipped result of `lecture-latent` (`results/full/lecture-latent/`, else the
teach tier's `results/teach/lecture-latent/`; `aelab.widgets.shipped`): its codes, images and
labels are drawn from the files (PCA at once; t-SNE / UMAP of them computed and cached like
your run's), with the paper vs shipped tier vs your run table; nothing trains until "train"
("try it yourself"), whose codes are drawn beside the shipped ones.

Training your run can be paused, stepped and continued at epoch ends; the figures come from
the finished codes, so what the run was like at each epoch is its numbers (`EpochRecord`: the
loss at every epoch, drawn live and cached with the codes), which the scrubber walks through.
A t-SNE or UMAP projection has no epochs: its status says it cannot pause (stop ends it) and
the pause and step buttons are hidden while it runs. The projection and the points shown are
in the page address (`UrlState`).
"""

from __future__ import annotations

import base64
import dataclasses
import json
import uuid

import ipywidgets as W
import numpy as np

from aelab.cache import array_key
from aelab.experiments import get
from aelab.experiments.lecture_demos import run_latent
from aelab.viz.latent import METHOD_NAMES, embed_2d, latent_scatter
from aelab.widgets.base import TOGGLES, App, EpochRecord, FigureStack, Runner, header
from aelab.widgets.experiment import job_context
from aelab.widgets.shipped import (caption_html, idle_status, open_shipped, run_caption_html, side_by_side,
                                   tier_table, try_it_html)
from aelab.widgets.urlstate import UrlState

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
        self.shipped = open_shipped(EXPERIMENT, self.runner)
        self.arrays: dict[str, np.ndarray] | None = None
        self._pca: dict[str, np.ndarray] = {}  # PCA of each source's points, for instant switches
        self._codes_version = 0  # counts your run's codes shown: a scatter drawn from them is kept (FigureStack)
        self._images_name = f"aelab_latent_{uuid.uuid4().hex}"
        self.images = W.Output(layout=W.Layout(height="0px", overflow="hidden"))  # the hover images, sent once
        views = [f"{m}/{source}" for m in ("pca", "tsne", "umap") for source in SOURCES]  # FigureStack slots
        self.fig = FigureStack(keys=views, fig=latent_scatter(np.zeros((0, 2)), np.zeros(0), method="pca",
                                               title="Codes will appear here once the autoencoder is trained"))
        self.record = EpochRecord(self.runner)  # your run's training: live loss, scrubber, pause / step
        self.play = self.record.play
        self.runner.figures = [self.fig, self.record.fig]
        # the settings in the page address; a reset's changes redraw once, not once per control
        self.url_state = UrlState({"method": self.method, "points": self.source}, on_change=lambda _: self.project())
        self.method.observe(lambda _: None if self.url_state.applying else self.project(), names="value")
        self.source.observe(lambda _: None if self.url_state.applying else self.project(), names="value")
        intro = ("Each dot is a test image, placed by its code (the hidden units of a denoising autoencoder) "
                 "projected to 2-D. Same-class images that land together mean the code separates classes without "
                 "ever seeing a label. Compare with raw pixels; hover over a dot to see its image.")
        self.explain = W.HTML("<div style='color:#555;max-width:60em'><b>nearest-neighbour error</b> (in the "
                              "title): the share of test images whose closest other image, measured on these points "
                              "before projecting, has another class (lower = classes better separated).</div>")
        top = W.VBox([header("Latent space explorer", intro, self.device), self.url_state.widget])
        self._training = False  # your run is training (t-SNE / UMAP of the shipped codes wait for it)
        if self.shipped is None:
            super().__init__([top, self.images, W.HBox([self.method]), self.source, self.play.buttons,
                              self.runner.widget, self.fig, self.explain, self.record.widget])
        else:
            full = self.shipped
            self.full_arrays = shipped_arrays(full)
            self._full_pca: dict[str, np.ndarray] = {}
            self._full_images_name = f"aelab_latent_full_{uuid.uuid4().hex}"
            self.full_images = W.Output(layout=W.Layout(height="0px", overflow="hidden"))
            self.full_images.outputs = (_images_output(self.full_arrays["images"], self._full_images_name),)
            self.full_fig = FigureStack(keys=views, fig=latent_scatter(np.zeros((0, 2)), np.zeros(0), method="pca",
                                                        title="the shipped codes"))
            self.fig.show(latent_scatter(np.zeros((0, 2)), np.zeros(0), method="pca",
                                         title="Your run's codes appear here: press train below"))
            self.train_button = W.Button(description="train", icon="play", button_style="primary",
                                         tooltip="train the autoencoder at the lab's size (try it yourself)")
            self.train_button.on_click(lambda _: self.prepare())
            self.run_caption = W.HTML(run_caption_html(self.scale, "not run yet: press train below"))
            self.table = W.HTML(self._table(None))
            super().__init__([top, self.images, self.full_images, W.HBox([self.method]), self.source,
                              side_by_side([W.HTML(caption_html(full, describe(full.config))), self.full_fig],
                                           [self.run_caption, self.fig]),
                              self.explain, self.table, try_it_html(self.scale, full.tier),
                              W.HBox([self.train_button, self.play.buttons]), self.runner.widget,
                              self.record.widget])
        self.url_state.from_page(on_late=self.project)  # a page opened from a link starts on its settings
        if autostart:
            if self.shipped is not None:
                self.project()  # the shipped codes, from the files (PCA: at once)
            self.prepare(train=self.shipped is None)  # on a shipped result, opening trains nothing

    def _table(self, arrays: dict[str, np.ndarray] | None) -> str:
        """The paper vs shipped tier vs your run table, with the nearest-neighbour errors under it
        (the lecture gives no number for them)."""
        def errors(values) -> str:
            return f"codes {values[0]:.1f}%, raw pixels {values[1]:.1f}%"

        run = None if arrays is None else run_metrics(arrays)
        yours = "not run yet" if arrays is None else errors(arrays["nearest_neighbour_error_percent"])
        note = (f"Nearest-neighbour error (the share of test images whose closest other image has another class; "
                f"lower = classes better separated, though no label was used): {self.shipped.tier} "
                f"{errors(self.full_arrays['nearest_neighbour_error_percent'])}; your run {yours}.")
        return tier_table(self.shipped, run, scale=self.scale, note=note)

    def prepare(self, train: bool = True) -> None:
        """Your run: its codes from the cache, else train in the background (`train=False`: only
        a cached run is shown; the dashboard opened on a shipped result)."""
        if train:
            self._training = True
            if self.shipped is not None:
                self.run_caption.value = run_caption_html(self.scale, f"training: {describe(vars(self.config))}")

        def task(job):
            result = run_latent(self.config, job_context(job, self.device, self.scale, on_epoch=self.record.hook(job)))
            # how well each kind of point separates classes, kept with the arrays for the figure's title
            errors = [result.metrics[f"nearest_neighbour_error_percent_{kind}"] for kind in ("codes", "pixels")]
            arrays = {**result.arrays, "nearest_neighbour_error_percent": np.asarray(errors, np.float32)}
            return arrays, {"history": self.record.history}  # every epoch's numbers, cached beside the codes

        def show(arrays: dict[str, np.ndarray], info: dict) -> None:
            self.record.load(info.get("history"))  # None: codes cached before records were kept
            self._use_codes(arrays)

        self.cached_or_start("latent-codes", self.config, task, show,
                             label=self.play.begin("training the autoencoder…"),
                             cached_status="codes loaded from cache", train=train, with_info=True,
                             idle_status=idle_status(self.shipped, "train") if self.shipped is not None else "")
        self.play.update()

    def _use_codes(self, arrays: dict[str, np.ndarray]) -> None:
        self._training = False
        self.arrays = arrays
        self._pca = {}
        self._codes_version += 1
        self.images.outputs = (_images_output(arrays["images"], self._images_name),)
        if self.shipped is not None:
            self.table.value = self._table(arrays)
            self.run_caption.value = run_caption_html(self.scale, describe(vars(self.config)))
        self.project()

    def _views(self) -> list[tuple]:
        """(figure, arrays, hover images' name, PCA per source, cache key) of each scatter with
        codes to draw: the shipped one first, then your run's."""
        views = []
        if self.shipped is not None:
            views.append((self.full_fig, self.full_arrays, self._full_images_name, self._full_pca,
                          {"shipped": self.shipped.scale, "codes": array_key(self.full_arrays["codes"])}))
        if self.arrays is not None:
            views.append((self.fig, self.arrays, self._images_name, self._pca,
                          {"codes": dataclasses.asdict(self.config)}))
        return views

    def project(self) -> None:
        """PCA is drawn at once; t-SNE and UMAP come from the cache or one background run for
        every scatter that needs them."""
        views = self._views()
        if not views:
            return
        method, source = self.method.value, self.source.value
        if method == "pca":  # computed once per source, then every switch only redraws
            for fig, arrays, name, pca, _ in views:
                if source not in pca:
                    pca[source] = embed_2d(_points(arrays, source), "pca")
                self.draw(pca[source], method, source, arrays=arrays, fig=fig, images_name=name)
            return
        if self._training and self.runner.busy:  # a projection would stop your run: after it, then
            self.runner.status.value = (f"training… ({METHOD_NAMES[method]} is drawn when your run is trained)")
            return
        missing = []
        for view in views:
            fig, arrays, name, _, codes_key = view
            cached = self.cache.load("latent-embedding", {**codes_key, "source": source, "method": method})
            if cached is None:
                missing.append(view)
            else:
                self.draw(cached[0]["points"], method, source, arrays=arrays, fig=fig, images_name=name)
        if not missing:
            self.runner.show_cached(f"{METHOD_NAMES[method]} loaded from cache")
            return

        def task(job):
            found = []
            for i, (_, arrays, _, _, codes_key) in enumerate(missing):
                points = _points(arrays, source)
                job.progress(i, len(missing), f"computing {METHOD_NAMES[method]} of {len(points)} points"
                             + (" (the first UMAP in a session compiles for ~30 s)" if method == "umap" else ""))
                found.append(embed_2d(points, method, seed=0))
                self.cache.save("latent-embedding", {**codes_key, "source": source, "method": method},
                                {"points": found[-1]})
            return found

        def show(found):
            if (self.method.value, self.source.value) == (method, source):  # not switched away meanwhile
                for (fig, arrays, name, _, _), points in zip(missing, found):
                    self.draw(points, method, source, arrays=arrays, fig=fig, images_name=name)

        self.runner.start(task, show, label=self.play.begin(f"computing {METHOD_NAMES[method]}…",
                                                           unpausable=f"{METHOD_NAMES[method]} has no epochs"))
        self.play.update()

    def draw(self, points: np.ndarray, method: str, source: str, *, arrays: dict[str, np.ndarray] | None = None,
             fig: FigureStack | None = None, images_name: str | None = None) -> None:
        """Draw `points` (of `arrays`: your run's unless given) in `fig` (your run's unless given);
        a scatter of the same codes, projection and points drawn before is only shown again."""
        arrays = self.arrays if arrays is None else arrays
        widget = self.fig if fig is None else fig
        view, stamp = f"{method}/{source}", ("shipped" if arrays is getattr(self, "full_arrays", None)
                                             else self._codes_version)
        if widget.reuse(view, stamp):
            return
        images_name = self._images_name if images_name is None else images_name
        what = "codes" if source == SOURCES[0] else "raw pixels"
        title = f"{what.capitalize()} of {len(points)} test images, {METHOD_NAMES[method]}"
        half = self.shipped is not None  # half the page beside the other scatter: the error on a second line
        if "nearest_neighbour_error_percent" in arrays:
            error = arrays["nearest_neighbour_error_percent"][SOURCES.index(source)]
            title += f"{'<br>' if half else ' · '}nearest-neighbour error {error:.1f}%"
        fig = latent_scatter(points, arrays["labels"], method=method, title=title)
        if half:
            fig.update_layout(margin_t=80)
        key = uuid.uuid4().hex
        canvas_id, caption_id = f"aelab-thumb-{key}", f"aelab-caption-{key}"
        thumb = (f"<div class='aelab-thumbnail' style='flex:0 0 {THUMB_PX}px;padding-top:60px'>"
                 f"<canvas id='{canvas_id}' width='8' height='8' style='width:{THUMB_PX}px;height:{THUMB_PX}px;"
                 f"image-rendering:pixelated;background:#eee;border:1px solid #ccc'></canvas>"
                 f"<div id='{caption_id}' style='font-size:14px;color:#333'>hover over a point to see its image</div>"
                 f"</div>")
        widget.show(fig, key=view, stamp=stamp, after_js=hover_js(images_name, canvas_id, caption_id, arrays["labels"]),
                    extra_html=thumb)


def _images_output(images: np.ndarray, name: str) -> dict:
    """The output that sends the hover images to the page once (`images_script`)."""
    return {"output_type": "display_data", "metadata": {},
            "data": {"text/plain": "", "text/html": images_script(images, name)}}


def _points(arrays: dict[str, np.ndarray], source: str) -> np.ndarray:
    if source == SOURCES[0]:
        return arrays["codes"]
    return arrays["images"].reshape(len(arrays["images"]), -1)


def run_metrics(arrays: dict[str, np.ndarray]) -> dict[str, float]:
    """The run's metrics from its cached arrays (`nearest_neighbour_error_percent`: codes, pixels)."""
    codes, pixels = (float(v) for v in arrays["nearest_neighbour_error_percent"])
    return {"nearest_neighbour_error_percent_codes": codes, "nearest_neighbour_error_percent_pixels": pixels}


def shipped_arrays(shipped) -> dict[str, np.ndarray]:
    """The shipped codes, images and labels, with the nearest-neighbour errors of result.json
    kept as your run's arrays keep them (for the scatter's title)."""
    metrics = shipped.metrics
    errors = [metrics.get(f"nearest_neighbour_error_percent_{kind}", float("nan")) for kind in ("codes", "pixels")]
    return {"codes": shipped.arrays["codes"], "images": shipped.arrays["images"], "labels": shipped.arrays["labels"],
            "nearest_neighbour_error_percent": np.asarray(errors, np.float32)}


def describe(config: dict) -> str:
    """'64 hidden units, 3 epochs on 3000 images, masking:0.25 noise' from a lecture-latent config."""
    images = "all training images" if not config.get("n_train") else f"{config.get('n_train')} images"
    return (f"{config.get('model')} {config.get('n_hidden')} hidden units, {config.get('epochs')} epochs on {images}, "
            f"{config.get('noise')} noise, {config.get('n_points')} test images shown")
