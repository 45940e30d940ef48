"""The lecture's "Stochastic autoencoders" slide, measured: `lecture-vae`.

The slide gives a stochastic encoder p_encoder(h|x), a stochastic decoder p_decoder(x|h) and
"Stochastic autoencoder may be estimated with maximum likelihood"; it names no VAE, no model
and no paper. Everything below is the lab's instance of it: a variational autoencoder (Gaussian
encoder, Bernoulli decoder; `aelab.models.vae`), trained by maximising a lower bound on the
likelihood (the ELBO), on statically binarised MNIST (each grey level read once as a pixel's
probability of being on, with a fixed seed), so that its bounds are log-probabilities of
discrete images:

- the test ELBO (nats; closed-form KL, one z per image) and the importance-weighted bound
  L_k with k = `iwae_k` (Burda et al. 2016), an estimate of log p(x) from below;
- a 2-D latent VAE whose decoder, read on a grid of prior quantiles, draws the familiar
  map of digits morphing into one another, and where the test images' codes fall;
- the VAE's samples beside the GSN chain samples of a denoising autoencoder (Gaussian
  noise, `aelab.measure.sampling`), held-out real images and k-means centroids of the
  training images, every set scored by the same Parzen window on the same grey test images
  (sigma chosen on validation images). Theis et al. (2016) showed why that number misleads:
  k-means centroids, which no one would call a generative model, outscore real digits. The
  IWAE number is a bound on a real likelihood; the Parzen number is not one in 784 dimensions.

Every preset is the lab's choice; `paper` is a longer run. The reference numbers shown beside the
run are not the lecture's (it has none): Burda et al. 2016 (Table 1, one-stochastic-layer VAE,
-log p(x) = 86.76 nats at k = 5000) and Theis et al. 2016 (Table 2, Parzen with 10,000 samples:
real data 243, k-means 313 nats).
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np
import torch
from scipy.stats import norm

from aelab.data import splits
from aelab.experiments.base import Experiment, Result, RunContext
from aelab.experiments.vincent import init_generator
from aelab.measure import parzen
from aelab.measure.sampling import ChainSettings, consecutive, run_chains, start_states
from aelab.models.registry import build_model
from aelab.train.loop import FitConfig, fit

SAMPLE_SETS = ("vae", "gsn", "real", "kmeans")
SAMPLE_NAMES = {"vae": "VAE samples", "gsn": "GSN chains of a DAE", "real": "real images (held out)",
                "kmeans": "k-means centroids"}


@dataclass
class VAEExperimentConfig:
    dataset: str = "mnist"
    n_train: int = 10000
    n_valid: int = 500  # grey validation images: the Parzen window's sigma is chosen on them
    n_test: int = 1000
    n_hidden: int = 200
    n_latent: int = 20
    epochs: int = 12
    epochs_2d: int = 12
    batch_size: int = 100
    lr: float = 2e-3
    iwae_k: int = 100
    dae_hidden: int = 300
    dae_noise: float = 0.3  # std of the DAE's Gaussian corruption (training and chain)
    dae_epochs: int = 6
    gsn_chains: int = 10  # chains run side by side from training images, n_samples / gsn_chains steps each
    n_samples: int = 1000  # per sample set scored by the Parzen window
    # where the real images scored by the Parzen window come from: "train" = the n_samples training
    # images after the first n_train (held out from training), "valid" = the n_samples validation images
    # after the first n_valid (those choose sigma), so that the models may train on every training image
    real_split: str = "train"
    kmeans_iterations: int = 10
    grid: int = 15  # the 2-D latent grid is grid x grid decoded images


def binarise(x: torch.Tensor, seed: int) -> torch.Tensor:
    """Each grey level as the probability of a pixel being on, drawn once with a fixed seed."""
    g = torch.Generator(device=x.device).manual_seed(seed)
    return torch.bernoulli(x, generator=g)


def kmeans(x: torch.Tensor, k: int, iterations: int, generator: torch.Generator) -> torch.Tensor:
    """k centroids of the rows of x by Lloyd's algorithm from k random rows (empty clusters keep theirs)."""
    centres = x[torch.randperm(len(x), generator=generator, device=x.device)[:k]].clone()
    for _ in range(iterations):
        d = (x * x).sum(1, keepdim=True) - 2 * x @ centres.t() + (centres * centres).sum(1)[None]
        nearest = d.argmin(1)
        sums = torch.zeros_like(centres).index_add_(0, nearest, x)
        counts = torch.bincount(nearest, minlength=k).to(x.dtype)[:, None]
        centres = torch.where(counts > 0, sums / counts.clamp(min=1), centres)
    return centres


def latent_grid(n: int) -> np.ndarray:
    """n x n codes at the prior's quantiles 0.05..0.95 (rows: z_2 from high to low)."""
    q = norm.ppf(np.linspace(0.05, 0.95, n))
    z1, z2 = np.meshgrid(q, q[::-1])
    return np.stack([z1.ravel(), z2.ravel()], axis=1).astype(np.float32)


def train_vae(config: VAEExperimentConfig, n_latent: int, epochs: int, x: torch.Tensor, ctx: RunContext,
              label: str, offset: int):
    model = build_model("vae", n_visible=x.shape[1], n_hidden=config.n_hidden, n_latent=n_latent,
                        generator=init_generator(ctx.seed + offset)).to(ctx.device)
    history = fit(model, model.loss, x, FitConfig(epochs=epochs, batch_size=config.batch_size, optimizer="adam",
                                                  lr=config.lr),
                  generator=ctx.generator(offset + 1), callbacks=ctx.callbacks(label), description=label)
    model.eval()
    return model, history


def run_vae(config: VAEExperimentConfig, ctx: RunContext) -> Result:
    if config.iwae_k < 1 or config.n_samples < 2 or config.grid < 2 or not 1 <= config.gsn_chains <= config.n_samples:
        raise ValueError("need iwae_k >= 1, n_samples >= 2, grid >= 2 and 1 <= gsn_chains <= n_samples")
    if config.real_split not in ("train", "valid"):
        raise ValueError(f"real_split must be 'train' or 'valid', got {config.real_split!r}")
    started = time.perf_counter()
    from_valid = config.real_split == "valid"
    n_train = config.n_train + (0 if from_valid else config.n_samples)
    n_valid = config.n_valid + (config.n_samples if from_valid else 0)
    train, valid, test = splits(config.dataset, ctx.device, n_train, n_valid, config.n_test)
    if len(train.x) < n_train or len(valid.x) < n_valid:
        raise ValueError(f"{config.dataset} has {len(train.x)} training and {len(valid.x)} validation images; "
                         f"this config needs {n_train} and {n_valid} (n_train, n_valid, n_samples, real_split)")
    shape = tuple(train.x.shape[-2:])
    grey = train.x[:config.n_train].reshape(config.n_train, -1)
    real = valid.x[config.n_valid:] if from_valid else train.x[config.n_train:]
    held_out = real[:config.n_samples].reshape(-1, grey.shape[1])
    valid_x = valid.x[:config.n_valid]
    test_grey = test.x.reshape(len(test.x), -1)
    x_bin, test_bin = binarise(grey, 1), binarise(test_grey, 2)
    metrics: dict[str, object] = {}

    # the VAE and its bounds
    model, history = train_vae(config, config.n_latent, config.epochs, x_bin, ctx, f"VAE, {config.n_latent}-D code", 10)
    g = ctx.generator(20)
    ev = model.evaluate(test_bin, config.iwae_k, g)
    with torch.no_grad():
        iwae_1 = float(torch.cat([model.iwae_bound(test_bin[i:i + 200], 1, g)
                                  for i in range(0, len(test_bin), 200)]).mean())
    metrics.update(test_elbo=ev["elbo"], test_iwae_log_likelihood=ev["iwae"], iwae_k=config.iwae_k,
                   test_iwae_k1=iwae_1, iwae_above_elbo=bool(ev["iwae"] >= ev["elbo"]),
                   train_loss=history[-1]["train_loss"] if history else None)
    ctx.log(f"VAE: test ELBO {ev['elbo']:.1f}, IWAE (k={config.iwae_k}) {ev['iwae']:.1f} nats")

    # the 2-D latent VAE
    model_2d, _ = train_vae(config, 2, config.epochs_2d, x_bin, ctx, "VAE, 2-D code", 30)
    ev2 = model_2d.evaluate(test_bin, config.iwae_k, ctx.generator(40))
    metrics.update(test_elbo_2d=ev2["elbo"], test_iwae_log_likelihood_2d=ev2["iwae"])
    with torch.no_grad():
        grid = model_2d.decode(torch.from_numpy(latent_grid(config.grid)).to(ctx.device))
        codes_2d = model_2d.encode(test_bin).cpu().numpy()

    # a denoising autoencoder and its GSN chain
    dae = build_model("dae", n_visible=grey.shape[1], n_hidden=config.dae_hidden, noise=f"gaussian:{config.dae_noise:g}",
                      generator=init_generator(ctx.seed + 50)).to(ctx.device)
    fit(dae, dae.loss, grey, FitConfig(epochs=config.dae_epochs, batch_size=config.batch_size, optimizer="adam",
                                       lr=1e-3),
        generator=ctx.generator(51), callbacks=ctx.callbacks("DAE"), description="DAE")
    g = ctx.generator(60)
    chains = run_chains(dae, start_states("data", config.gsn_chains, grey, g),
                        ChainSettings(n_steps=config.n_samples // config.gsn_chains, noise=("gaussian", config.dae_noise),
                                      output="sample", record="mean"),
                        generator=g, check_stop=ctx.check_stop)
    samples = {"vae": model.sample(config.n_samples, ctx.generator(70)), "gsn": consecutive(chains)[:config.n_samples],
               "real": held_out, "kmeans": kmeans(grey, config.n_samples, config.kmeans_iterations, ctx.generator(80))}

    # one Parzen window, the same test points, for every set
    valid_grey = valid_x.reshape(len(valid_x), -1)
    for name in SAMPLE_SETS:
        ctx.check_stop()
        estimate = parzen.evaluate(samples[name], test_grey, valid_grey)
        metrics[f"parzen_{name}"] = estimate.mean
        metrics[f"parzen_{name}_stderr"] = estimate.stderr
        metrics[f"parzen_{name}_sigma"] = estimate.sigma
    metrics["kmeans_centroids_score_above_real_images"] = bool(metrics["parzen_kmeans"] > metrics["parzen_real"])
    metrics["seconds"] = time.perf_counter() - started
    show = 40
    arrays = {f"samples_{name}": samples[name][:show].reshape(-1, *shape).cpu().numpy() for name in SAMPLE_SETS}
    # the GSN's rows: the last states of every chain, one row per step
    arrays["samples_gsn"] = chains[-max(1, show // config.gsn_chains):].reshape(-1, *shape)[:show].cpu().numpy()
    arrays.update(latent_grid=grid.reshape(-1, *shape).cpu().numpy(), codes_2d=codes_2d,
                  labels=test.y.cpu().numpy(), reconstructions=model.reconstruct(test_bin[:10]).reshape(-1, *shape)
                  .detach().cpu().numpy(), test_images=test_bin[:10].reshape(-1, *shape).cpu().numpy())
    paper = {"test_iwae_log_likelihood": -86.76, "iwae_above_elbo": True, "parzen_real": 243.0,
             "parzen_kmeans": 313.0, "kmeans_centroids_score_above_real_images": True}
    notes = (f"ELBO and IWAE (k={config.iwae_k}) are mean log-probabilities of the binarised test images, in nats: "
             "the IWAE bound lies above the ELBO and below log p(x). The paper's -86.76 is Burda et al. 2016's "
             "one-layer VAE after 3280 epochs (k = 5000). Parzen numbers (nats, sigma chosen on validation images) "
             f"score {config.n_samples} samples of each set on the same {len(test_grey)} grey test images; "
             "Theis et al. 2016 found 243 for real data and 313 for k-means centroids with 10,000 samples. A density "
             "estimate that ranks cluster centres above real digits does not measure sample quality: compare models "
             "by a likelihood bound (ELBO, IWAE), not by Parzen windows.")
    # the 2-D VAE draws the dashboard's latent map (784-500-2 at full size: about 1.6 MB at float16)
    return Result(metrics=metrics, paper=paper, arrays=arrays, notes=notes, models={"vae-2d": model_2d})


# full: a VAE with 500 hidden units per side (the lab's choice; the lecture names no model) on every
# training image. Times measured with one torch thread and
# single-threaded BLAS (process CPU time; the machine was shared, so its wall time was no measure), one epoch
# or one pass each: an epoch of the 20-D VAE 4.4 s, of the 2-D VAE 3.1 s, of the 1000-unit DAE 3.8 s; the
# IWAE bound (k = 1000) 8.1 s per 500 test images and model (about 5.5 minutes for two models on 10000);
# one Lloyd iteration with 9000 centroids 9 s; one Parzen score 2.6 s. 300 + 150 + 100 epochs, the bounds,
# k-means and the scores: about 47 minutes.
VAE_FULL = VAEExperimentConfig(n_train=50000, n_valid=1000, n_test=10000, n_hidden=500, n_latent=20, epochs=300,
                               epochs_2d=150, batch_size=100, lr=1e-3, iwae_k=1000, dae_hidden=1000, dae_epochs=100,
                               n_samples=9000, real_split="valid", kmeans_iterations=30)

EXPERIMENTS = [
    Experiment(
        name="lecture-vae", title="The variational autoencoder: ELBO, IWAE, a 2-D latent map, and Parzen's trap",
        paper="Autoencoder lecture, stochastic autoencoders; reference numbers (not in the lecture): Burda et al. "
              "2016 Table 1, Theis et al. 2016 Table 2",
        run=run_vae, datasets=("mnist", "digits"),
        presets={"smoke": VAEExperimentConfig(dataset="digits", n_train=300, n_valid=100, n_test=100, n_hidden=32,
                                              n_latent=4, epochs=2, epochs_2d=2, iwae_k=10, dae_hidden=32,
                                              dae_epochs=1, n_samples=100, kmeans_iterations=3, grid=5),
                 "teach": VAEExperimentConfig(),
                 "full": VAE_FULL,
                 # every training image trains the models, so the real images come from the validation split
                 "paper": VAEExperimentConfig(n_train=50000, n_valid=1000, n_test=10000, n_latent=50, epochs=100,
                                              epochs_2d=50, iwae_k=1000, dae_hidden=1000, dae_epochs=50,
                                              n_samples=9000, real_split="valid", kmeans_iterations=30)},
        deviations={"full": (
            "the lecture's slide names no model: 'Stochastic autoencoder may be estimated with maximum likelihood'; "
            "a VAE maximises a lower bound on it (the ELBO); IWAE, the Parzen comparison, the GSN chains and the "
            "reference numbers (Burda et al. 2016, Theis et al. 2016, papers the lecture does not name) are the "
            "lab's additions",
            f"a Gaussian encoder and Bernoulli decoder with one hidden layer of {VAE_FULL.n_hidden} tanh units per "
            f"side, a {VAE_FULL.n_latent}-D code, one z per example, Adam (lr {VAE_FULL.lr:g}, batch "
            f"{VAE_FULL.batch_size}, {VAE_FULL.epochs} epochs): the lab's choice",
            f"the 2-D latent map's VAE: the same network with a 2-D code, {VAE_FULL.epochs_2d} epochs",
            "MNIST binarised once with a fixed seed (each grey level the probability of a pixel being on)",
            f"IWAE bound with k = {VAE_FULL.iwae_k} on the {VAE_FULL.n_test} test images; Burda et al.'s -86.76 "
            "is at k = 5000, for a network with two deterministic layers of 200 tanh units per side and a 50-D "
            "code trained for 3280 epochs",
            f"Parzen scores of {VAE_FULL.n_samples} samples per set (Theis et al.: 10,000), sigma chosen on "
            f"{VAE_FULL.n_valid} validation images; the real images are validation images after those",
            f"the GSN chains come from one denoising autoencoder ({VAE_FULL.dae_hidden} sigmoid units, Gaussian noise "
            f"{VAE_FULL.dae_noise:g}, {VAE_FULL.dae_epochs} epochs, {VAE_FULL.gsn_chains} chains): the lab's choice",
            f"k-means: {VAE_FULL.n_samples} centroids of the grey training images, {VAE_FULL.kmeans_iterations} "
            "Lloyd iterations (the lab's choice)",
        ), "paper": (
            "the lecture's slide names no model: 'Stochastic autoencoder may be estimated with maximum likelihood'; "
            "a VAE maximises a lower bound on it (the ELBO); IWAE, the Parzen comparison, the GSN chains and the "
            "reference numbers (Burda et al. 2016, Theis et al. 2016, papers the lecture does not name) are the "
            "lab's additions",
            "a VAE with one hidden layer of 200 tanh units per side and a 50-D code (Burda et al.'s one-stochastic-"
            "layer network has two deterministic layers of 200 units per side), trained by Adam (lr 2e-3, 100 "
            "epochs; Burda et al.: 3280 epochs): the lab's choice",
            "MNIST binarised once with a fixed seed (each grey level the probability of a pixel being on)",
            "IWAE bound with k = 1000 (Burda et al.: k = 5000)",
            "Parzen scores of 9000 samples per set (Theis et al.: 10,000), sigma chosen on 1000 validation images; "
            "the real images are validation images after those",
        )}),
]
