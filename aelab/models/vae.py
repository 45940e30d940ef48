"""The variational autoencoder (lecture slide "Stochastic autoencoders"; Kingma & Welling 2014):
a stochastic encoder q(z | x) = N(mu(x), diag sigma(x)^2) and a stochastic decoder
p(x | z) = Bernoulli(sigmoid(logits(z))), with the prior p(z) = N(0, I).

    h        = tanh(W_1 x + b_1),   mu = W_mu h + b_mu,   log sigma^2 = W_v h + b_v
    z        = mu + sigma * eps,    eps ~ N(0, I)                 (the reparameterisation)
    x_r      = sigmoid(W_3 tanh(W_2 z + b_2) + b_3)
    ELBO(x)  = E_q[log p(x | z)] - KL(q(z | x) || p(z))  <=  log p(x)
    KL       = 1/2 sum_j (mu_j^2 + sigma_j^2 - log sigma_j^2 - 1)   (closed form)

Training minimises -ELBO: the loss terms are `reconstruction` (the Bernoulli cross-entropy of
one sample z per example) and `kl`, averaged over a batch, in nats. `iwae_bound(x, k)` is
the importance-weighted bound of Burda et al. (2016),

    L_k(x) = E[ log 1/k sum_i p(x, z_i) / q(z_i | x) ],  z_i ~ q(z | x),

with L_1 = ELBO <= L_k <= L_{k+1} <= log p(x): with k = 100 or more it estimates log p(x).

`encode` returns the mean mu (deterministic), `decode` the Bernoulli means, so that
`reconstruct(x) = decode(encode(x))` is deterministic like every other family's.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from aelab.models.registry import register

LOG_2PI = math.log(2 * math.pi)


@dataclass
class VAEConfig:
    n_visible: int = 784
    n_hidden: int = 200  # tanh units of the encoder's and the decoder's hidden layer
    n_latent: int = 20


def _linear(n_in: int, n_out: int, generator: torch.Generator | None) -> nn.Linear:
    layer = nn.Linear(n_in, n_out)
    r = math.sqrt(6.0 / (n_in + n_out))
    with torch.no_grad():
        layer.weight.uniform_(-r, r, generator=generator)
        layer.bias.zero_()
    return layer


def kl_standard_normal(mu: torch.Tensor, logvar: torch.Tensor) -> torch.Tensor:
    """KL(N(mu, diag exp(logvar)) || N(0, I)) per example, in closed form."""
    return 0.5 * (mu.pow(2) + logvar.exp() - logvar - 1).sum(1)


@register("vae")
class VAE(nn.Module):
    Config = VAEConfig

    def __init__(self, config: VAEConfig, generator: torch.Generator | None = None):
        super().__init__()
        if min(config.n_visible, config.n_hidden, config.n_latent) < 1:
            raise ValueError(f"layer sizes must be positive, got {config}")
        self._config = config
        self.enc = _linear(config.n_visible, config.n_hidden, generator)
        self.enc_mu = _linear(config.n_hidden, config.n_latent, generator)
        self.enc_logvar = _linear(config.n_hidden, config.n_latent, generator)
        self.dec = _linear(config.n_latent, config.n_hidden, generator)
        self.dec_out = _linear(config.n_hidden, config.n_visible, generator)

    @classmethod
    def from_config(cls, config: VAEConfig, generator: torch.Generator | None = None) -> "VAE":
        return cls(config, generator)

    @property
    def config(self) -> VAEConfig:
        return self._config

    # --- the two stochastic maps --------------------------------------------------------
    def posterior(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(mu, log sigma^2) of q(z | x)."""
        h = torch.tanh(self.enc(x.reshape(x.shape[0], -1)))
        return self.enc_mu(h), self.enc_logvar(h).clamp(-12.0, 8.0)

    def logits(self, z: torch.Tensor) -> torch.Tensor:
        """The decoder's Bernoulli logits for codes z (any leading shape)."""
        return self.dec_out(torch.tanh(self.dec(z)))

    def encode(self, x: torch.Tensor) -> torch.Tensor:
        """The posterior mean mu(x)."""
        return self.posterior(x)[0]

    def decode(self, z: torch.Tensor) -> torch.Tensor:
        """The Bernoulli means sigmoid(logits(z))."""
        return torch.sigmoid(self.logits(z))

    def reconstruct(self, x: torch.Tensor) -> torch.Tensor:
        return self.decode(self.encode(x)).reshape(x.shape)

    forward = reconstruct

    def sample_z(self, mu: torch.Tensor, logvar: torch.Tensor, k: int | None = None,
                 generator: torch.Generator | None = None) -> torch.Tensor:
        """z = mu + sigma eps (k x N x d when k is given, else N x d)."""
        shape = mu.shape if k is None else (k, *mu.shape)
        eps = torch.randn(shape, generator=generator, device=mu.device, dtype=mu.dtype)
        return mu + (0.5 * logvar).exp() * eps

    @torch.no_grad()
    def sample(self, n: int, generator: torch.Generator | None = None) -> torch.Tensor:
        """Bernoulli means of n codes drawn from the prior (n x n_visible)."""
        p = next(self.parameters())
        z = torch.randn((n, self._config.n_latent), generator=generator, device=p.device, dtype=p.dtype)
        return self.decode(z)

    # --- objectives ----------------------------------------------------------------------
    def log_likelihood(self, x: torch.Tensor, z: torch.Tensor) -> torch.Tensor:
        """log p(x | z) (Bernoulli), summed over pixels; z may carry leading sample dims."""
        logits = self.logits(z)
        return -F.binary_cross_entropy_with_logits(logits, x.expand_as(logits), reduction="none").sum(-1)

    def elbo_terms(self, x: torch.Tensor, generator: torch.Generator | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        """(reconstruction = -log p(x | z) with one z ~ q, kl) per example."""
        x = x.reshape(x.shape[0], -1)
        mu, logvar = self.posterior(x)
        z = self.sample_z(mu, logvar, generator=generator)
        return -self.log_likelihood(x, z), kl_standard_normal(mu, logvar)

    def loss(self, x: torch.Tensor, generator: torch.Generator | None = None) -> dict[str, torch.Tensor]:
        """-ELBO, averaged over the batch: reconstruction + kl (nats)."""
        reconstruction, kl = self.elbo_terms(x, generator)
        terms = {"reconstruction": reconstruction.mean(), "kl": kl.mean()}
        terms["total"] = terms["reconstruction"] + terms["kl"]
        return terms

    def iwae_bound(self, x: torch.Tensor, k: int, generator: torch.Generator | None = None) -> torch.Tensor:
        """L_k(x) per example (k = 1 is a one-sample ELBO estimate with the log-density ratio)."""
        x = x.reshape(x.shape[0], -1)
        mu, logvar = self.posterior(x)
        z = self.sample_z(mu, logvar, k, generator)  # k x N x d
        log_prior = -0.5 * (z.pow(2) + LOG_2PI).sum(-1)
        log_q = -0.5 * ((z - mu).pow(2) / logvar.exp() + logvar + LOG_2PI).sum(-1)
        log_w = self.log_likelihood(x, z) + log_prior - log_q
        return torch.logsumexp(log_w, 0) - math.log(k)

    @torch.no_grad()
    def evaluate(self, x: torch.Tensor, k: int = 100, generator: torch.Generator | None = None,
                 batch_size: int = 100) -> dict[str, float]:
        """Mean test ELBO (closed-form KL, one z per example) and the IWAE estimate of log p(x), nats."""
        x = x.reshape(x.shape[0], -1)
        elbo, iwae = 0.0, 0.0
        for start in range(0, x.shape[0], batch_size):
            xb = x[start:start + batch_size]
            reconstruction, kl = self.elbo_terms(xb, generator)
            elbo += float((-reconstruction - kl).sum())
            iwae += float(self.iwae_bound(xb, k, generator).sum())
        return {"elbo": elbo / len(x), "iwae": iwae / len(x)}
