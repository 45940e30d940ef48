"""A fast step for the dense family: the gradients of `Autoencoder.loss` and
`DeepAutoencoder.loss` derived by hand, so that one training step is its matrix products,
a few elementwise passes and nothing else (no autograd graph, no double backward).

Notation as in `aelab.models.dense`, layer i = 1..N maps its (corrupted) input u_i to
h_i = s_e(a_i), a_i = u_i W_i^T + b_i; the decoders run top-down, z_N = h_N,
p_i = z_i W'_i^T + b'_i, z_{i-1} = s_d(p_i), and x_r = s_d(p_1). With B examples a batch,
the loss L = (1/B) sum_b l(x_b, x_r,b) + penalties has the gradients

    dp_1     = (1/B) dl/dp_1          (= (sigmoid(p_1) - x) / B for the cross-entropy)
    dz_i     = dp_i W'_i,             dp_{i+1} = dz_i * s_d'(z_i)
    dh_N     = dz_N (+ the penalties' dL/dh)
    da_i     = dh_i * s_e'(h_i) (+ the contraction's dL/da)
    dh_{i-1} = (da_i W_i) * dq_i      (dq_i: the corruption's derivative, the kept entries of a mask)
    dW_i     = da_i^T u_i + z_i^T dp_i        tied (W'_i = W_i^T): ONE product over the stacked batch,
                                              [z_i ; da_i]^T [dp_i ; u_i]
    dW'_i    = dp_i^T z_i                     untied
    db_i = sum_b da_i,  db'_i = sum_b dp_i

and the regularisers in closed form (for every encoder unit):

    contraction  lambda/B sum_b sum_j s'(a_j)^2 q_j, q_j = sum_i W_ji^2:
                 dW_ji += 2 lambda/B (sum_b s'_bj^2) W_ji,  da_bj += 2 lambda/B s'_bj s''_bj q_j
    sparsity_l1  dh += lambda/B sign(h)
    sparsity_kl  dh += lambda/B (-(rho / rho^_j) + (1 - rho) / (1 - rho^_j))
    weight_decay dW += 2 lambda W  (and W')

The noise is drawn by the model's own `corrupt`, in the same order as `loss`, so for the
same generator a fused step and an autograd step see the same corrupted batch; the tests
compare their gradients. `fused_loss(model)` returns the step for a model it supports,
else None (the loop then falls back to autograd).
"""

from __future__ import annotations

from typing import Any, Callable

import torch
import torch.nn.functional as F

from aelab.models.dense import _ACTIVATION as _ACT
from aelab.models.dense import Autoencoder, DeepAutoencoder, flat
from aelab.models.dense import _derivative as derivative


# the units in place (on a tensor the step owns)
_ACT_ = {"sigmoid": torch.Tensor.sigmoid_, "tanh": torch.Tensor.tanh_, "relu": torch.Tensor.relu_,
         "linear": lambda a: a}


def _place(target: torch.Tensor, value: torch.Tensor) -> None:
    """Make `target` hold `value`: nothing to do when `value` was computed into it."""
    if value.data_ptr() != target.data_ptr() or value.shape != target.shape:
        target.copy_(value)


def _derivative(unit: str, h: torch.Tensor) -> torch.Tensor | None:
    """s'(a) from h = s(a), in one pass; None for linear units (s' = 1, no pass needed)."""
    if unit == "sigmoid":
        return torch.addcmul(h, h, h, value=-1.0)  # h (1 - h) = h - h^2
    if unit == "tanh":
        return 1 - h * h
    return None if unit == "linear" else derivative(unit, h)


def _second(unit: str, h: torch.Tensor, s: torch.Tensor) -> torch.Tensor | None:
    """s''(a) from h and s = s'(a); None where it is 0 (relu, linear)."""
    if unit == "sigmoid":
        return s * (1 - 2 * h)
    if unit == "tanh":
        return -2 * h * s
    return None


class FusedDenseStep:
    """`loss(x, generator)` for a dense model that also leaves the gradients in `.grad`.

    The loop sees `computes_gradients = True` and skips `backward()`. Returns the same
    named terms as the model's `loss`, detached."""

    computes_gradients = True

    def __init__(self, model: Autoencoder | DeepAutoencoder, regularised: bool = True):
        self.model = model
        self.deep = isinstance(model, DeepAutoencoder)
        self.layers: list[Autoencoder] = list(model.layers) if self.deep else [model]
        self.regularised = regularised or not self.deep
        self._stacks: dict[tuple, tuple[torch.Tensor, torch.Tensor]] = {}

    def _stack(self, i: int, n: int, like: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor] | None:
        """For a tied layer, the two stacked operands of its weight gradient, [z ; da] (2n x H) and
        [dp ; u] (2n x D): buffers kept between steps, which the step writes its values into as it
        computes them (no concatenation, no fresh allocation a step)."""
        layer = self.layers[i]
        if not layer.tied:
            return None
        key = (i, n, like.dtype, like.device)
        if key not in self._stacks:
            self._stacks[key] = (torch.empty(2 * n, layer.n_hidden, dtype=like.dtype, device=like.device),
                                 torch.empty(2 * n, layer.n_visible, dtype=like.dtype, device=like.device))
        return self._stacks[key]

    def _name(self, term: str, i: int) -> str:
        return f"{term}_{i + 1}" if self.deep else term

    @torch.no_grad()
    def __call__(self, x: torch.Tensor, generator: torch.Generator | None = None) -> dict[str, torch.Tensor]:
        layers, reg = self.layers, self.regularised
        x = flat(x)
        n = x.shape[0]
        terms: dict[str, torch.Tensor] = {}
        stacks = [self._stack(i, n, x) for i in range(len(layers))]
        top = stacks[-1]
        # --- encoders (with corruption at every input) ------------------------------------
        inputs, codes, keeps = [], [], []
        u = x
        for i, layer in enumerate(layers):
            if reg and layer.noise[0] != "none" and layer.noise[1] > 0:
                corrupted = layer.corrupt(u, generator)
                # dq: masking and salt-pepper keep some entries (derivative 1) and replace the rest (0);
                # additive gaussian noise has derivative 1 everywhere
                keeps.append(None if layer.noise[0] == "gaussian" or i == 0 else (corrupted == u))
                u = corrupted
            else:
                keeps.append(None)
            inputs.append(u)
            if i == len(layers) - 1 and top is not None:  # the top code is z_N, the first rows of [z ; da]
                h = _ACT_[layer.encoder_unit](torch.addmm(layer.b, u, layer.W.t(), out=top[0][:n]))
            else:
                h = _ACT[layer.encoder_unit](torch.addmm(layer.b, u, layer.W.t()))
            codes.append(h)
            u = h
        # --- decoders, top-down -------------------------------------------------------------
        z = codes[-1]
        decoder_inputs: list[torch.Tensor] = [None] * len(layers)  # type: ignore[list-item]
        outputs: list[torch.Tensor] = [None] * len(layers)  # type: ignore[list-item]
        for i in range(len(layers) - 1, -1, -1):
            layer = layers[i]
            decoder_inputs[i] = z
            # p_1 becomes dp_1 in place (the first rows of layer 1's [dp ; u]); z_{i-1} = s(p_i) the
            # first rows of layer i-1's [z ; da]
            below = stacks[max(i - 1, 0)]
            into = None if below is None else below[1] if i == 0 else below[0]
            if into is None:
                p = torch.addmm(layer.b_prime, z, layer.decoder_weight.t())
            else:
                p = torch.addmm(layer.b_prime, z, layer.decoder_weight.t(), out=into[:n])
            outputs[i] = p
            if i > 0:
                z = (_ACT[layer.decoder_unit] if into is None else _ACT_[layer.decoder_unit])(p)
        # --- the reconstruction loss and its gradient dp_1 ------------------------------------
        bottom, p = layers[0], outputs[0]
        if bottom.loss_kind == "cross-entropy":
            # sum_b L_H = sum softplus(p) - sum x p: one pass and a dot product (no temporaries);
            # then p itself becomes dp = (sigmoid(p) - x) / B
            terms["reconstruction"] = (F.softplus(p).sum() - torch.dot(x.reshape(-1), p.reshape(-1))) / n
            dp = p.sigmoid_().sub_(x).mul_(1.0 / n)
        else:
            r = _ACT[bottom.decoder_unit](p)
            diff = r - x
            terms["reconstruction"] = diff.pow(2).sum() / n
            dp = diff.mul_(2.0 / n)
            s = _derivative(bottom.decoder_unit, r)
            if s is not None:
                dp.mul_(s)
        # --- back up through the decoders -------------------------------------------------
        grads: dict[int, dict[str, torch.Tensor]] = {i: {} for i in range(len(layers))}
        decoder_grads: list[torch.Tensor] = [None] * len(layers)  # type: ignore[list-item]
        for i, layer in enumerate(layers):
            decoder_grads[i] = dp
            grads[i]["b_prime"] = dp.sum(0)
            above = stacks[i + 1] if i + 1 < len(layers) else None  # dp_{i+1}: the first rows of its [dp ; u]
            dz = torch.mm(dp, layer.decoder_weight) if above is None else \
                torch.mm(dp, layer.decoder_weight, out=above[1][:n])  # [n, H_i]
            if i + 1 < len(layers):
                upper = layers[i + 1]
                s = _derivative(upper.decoder_unit, decoder_inputs[i])
                dp = dz.mul_(s) if s is not None else dz
            else:
                dh = dz
        # --- penalties and back down through the encoders -----------------------------------
        for i in range(len(layers) - 1, -1, -1):
            layer, h, u = layers[i], codes[i], inputs[i]
            s = _derivative(layer.encoder_unit, h)
            if reg and layer.sparsity_l1 > 0:
                terms[self._name("sparsity_l1", i)] = layer.sparsity_l1 * h.abs().sum() / n
                dh = dh + (layer.sparsity_l1 / n) * torch.sign(h)
            if reg and layer.sparsity_kl > 0:
                rho, rate = layer.sparsity_target, h.mean(0)
                clamped = rate.clamp(1e-6, 1 - 1e-6)
                kl = rho * torch.log(rho / clamped) + (1 - rho) * torch.log((1 - rho) / (1 - clamped))
                terms[self._name("sparsity_kl", i)] = layer.sparsity_kl * kl.sum()
                slope = (-(rho / clamped) + (1 - rho) / (1 - clamped)) * (rate == clamped)
                dh = dh + (layer.sparsity_kl / n) * slope
            if s is None:
                da = dh
            elif stacks[i] is not None:  # da: the last rows of [z ; da]
                da = torch.mul(dh, s, out=stacks[i][0][n:])
            else:
                da = dh.mul_(s)  # dh is always this step's own fresh tensor
            dW_extra = None
            if reg and layer.contractive > 0:
                q = layer.W.pow(2).sum(1)  # [H]
                s_ = s if s is not None else torch.ones_like(h)
                s2 = s_ * s_
                terms[self._name("contraction", i)] = layer.contractive * (s2 @ q).sum() / n
                dW_extra = (2 * layer.contractive / n) * s2.sum(0).unsqueeze(1) * layer.W
                second = _second(layer.encoder_unit, h, s_)
                if second is not None:
                    da = da + (2 * layer.contractive / n) * (s_ * second) * q
            if reg and layer.l2 > 0:
                norm = layer.W.pow(2).sum() + (0 if layer.tied else layer.W_prime.pow(2).sum())
                terms[self._name("weight_decay", i)] = layer.l2 * norm
            # weights: one product over the stacked batch when tied
            if layer.tied:
                left, right = stacks[i]
                for target, value in ((left[:n], decoder_inputs[i]), (left[n:], da),
                                      (right[:n], decoder_grads[i]), (right[n:], u)):
                    _place(target, value)  # most were computed in place: only the others are copied
                dW = left.t() @ right
            else:
                dW = da.t() @ u
                grads[i]["W_prime"] = decoder_grads[i].t() @ decoder_inputs[i]
                if reg and layer.l2 > 0:
                    grads[i]["W_prime"] += 2 * layer.l2 * layer.W_prime
            if dW_extra is not None:
                dW += dW_extra
            if reg and layer.l2 > 0:
                dW += 2 * layer.l2 * layer.W
            grads[i]["W"] = dW
            grads[i]["b"] = da.sum(0)
            if i > 0:
                dh = da @ layer.W
                if keeps[i] is not None:
                    dh = dh * keeps[i]
        for i, layer in enumerate(layers):
            for name, g in grads[i].items():
                getattr(layer, name).grad = g
        terms["total"] = sum(terms.values())
        return terms


def fused_loss(model: torch.nn.Module, regularised: bool = True) -> FusedDenseStep | None:
    """The fast step for `model` (an `Autoencoder` or a `DeepAutoencoder`), or None."""
    if isinstance(model, (Autoencoder, DeepAutoencoder)):
        return FusedDenseStep(model, regularised)
    return None


# --- the optimizer's update in one pass ---------------------------------------------------------

class FusedRMSprop(torch.optim.Optimizer):
    """RMSprop (no momentum; L2 weight decay added to the gradient, as torch's) whose update
    is one fused pass per tensor instead of five.

        s_t = alpha s_{t-1} + (1 - alpha) g_t^2,   p_t = p_{t-1} - lr g_t / (sqrt(s_t) + eps)

    PyTorch's fused Adam kernel computes the same update with beta1 = 0 (its first moment is
    then the gradient: without weight decay the gradient tensor itself is passed as that
    moment, which the kernel overwrites with the same values) and beta2 = alpha, once its bias
    corrections are 1: it is given a step count so large (2^30) that 1 - alpha^t is 1 in
    float. The real counts are kept on the host and written into the state's "step" tensors
    only when the state is read (`state_dict`), so a step makes no other device call. The
    state is torch.optim.RMSprop's ("step", "square_avg"), so checkpoints move between the
    two; `tests/test_fast_step.py` compares the parameters with torch.optim.RMSprop's step by
    step.
    """

    _BIG_STEP = float(2 ** 30)

    def __init__(self, params, lr: float = 1e-2, alpha: float = 0.99, eps: float = 1e-8, weight_decay: float = 0.0):
        super().__init__(params, dict(lr=lr, alpha=alpha, eps=eps, weight_decay=weight_decay))
        self._scratch: dict[torch.Tensor, torch.Tensor] = {}  # the kernel's first moment, with weight decay
        self._t: dict[torch.Tensor, int] = {}  # each tensor's step count on the host (no device reads)
        self._big: dict[torch.device, torch.Tensor] = {}  # the kernel's step count, per device

    @staticmethod
    def available(device: torch.device) -> bool:
        return hasattr(torch, "_fused_adam_") and device.type in ("cpu", "cuda")

    @torch.no_grad()
    def step(self, closure=None):
        loss = None if closure is None else closure()
        for group in self.param_groups:
            params = [p for p in group["params"] if p.grad is not None]
            if not params:
                continue
            decay = group["weight_decay"]
            for p in params:
                state = self.state[p]
                if not state:
                    state["step"] = torch.zeros((), dtype=torch.float32, device=p.device)
                    state["square_avg"] = torch.zeros_like(p, memory_format=torch.preserve_format)
                if p not in self._t:  # new, or loaded from a state dict: one read
                    self._t[p] = int(state["step"])
                self._t[p] += 1
            firsts = [p.grad for p in params]
            if decay:  # the kernel writes grad + decay * p into its first moment: not into .grad
                for p in params:
                    if p not in self._scratch:
                        self._scratch[p] = torch.zeros_like(p)  # not empty: the kernel reads it (0 * NaN garbage is NaN)
                firsts = [self._scratch[p] for p in params]
            device = params[0].device
            if device not in self._big:
                self._big[device] = torch.full((), self._BIG_STEP, dtype=torch.float32, device=device)
            torch._fused_adam_(params, [p.grad for p in params], firsts,
                               [self.state[p]["square_avg"] for p in params], [], [self._big[device]] * len(params),
                               lr=group["lr"], beta1=0.0, beta2=group["alpha"], weight_decay=decay,
                               eps=group["eps"], amsgrad=False, maximize=False)
        return loss

    def _sync_steps(self) -> None:
        """Write the host step counts into the state's "step" tensors."""
        for p, t in self._t.items():
            self.state[p]["step"].fill_(float(t))

    def state_dict(self):
        self._sync_steps()
        return super().state_dict()

    def load_state_dict(self, state_dict) -> None:
        super().load_state_dict(state_dict)
        for state in self.state.values():  # torch keeps the given tensors themselves: own copies
            for key, value in state.items():
                state[key] = value.clone() if isinstance(value, torch.Tensor) else torch.tensor(float(value))
        self._t.clear()  # re-read from the loaded "step" tensors

    def advance(self, steps: int) -> None:
        """Count `steps` more updates that ran without this object's `step` (a CUDA graph's replays
        of a captured `step`: the device work repeats, the host bookkeeping does not)."""
        for p in self._t:
            self._t[p] += steps


# --- the whole step captured in a CUDA graph ------------------------------------------------------

class _CudaGraph:
    """torch.cuda.CUDAGraph with the step's random generator registered, so that every replay draws
    fresh noise from it (and advances it as the eager step would)."""

    replays_host_work = False  # a replay repeats the device work alone

    def __init__(self, device: torch.device, generator: torch.Generator | None):
        self.graph = torch.cuda.CUDAGraph()
        if generator is not None:
            default = torch.cuda.default_generators[device.index if device.index is not None
                                                    else torch.cuda.current_device()]
            if generator is not default:  # the default generator is registered by torch itself
                self.graph.register_generator_state(generator)

    def capture(self, work: Callable[[], None]) -> None:
        # thread_local: a dashboard may touch the GPU from another thread while this one captures
        with torch.cuda.graph(self.graph, capture_error_mode="thread_local"):
            work()

    def replay(self) -> None:
        self.graph.replay()


class GraphedStep:
    """One training step — a fused step's gradients, the optimizer's update and the epoch's running
    sums of the loss terms — captured once and replayed for every batch of the captured size.

    Eagerly, a batch-100 step of the DAE launches about 40 small kernels, and on a GPU their launches
    take longer than their arithmetic; replayed from a CUDA graph, a step is one launch and a copy of
    the batch into the graph's input. The loop runs the first `WARMUP` steps of a fit eagerly (they
    allocate the optimizer's state, the step's buffers and the BLAS workspace), captures the next
    batch of that size, and replays from then on; a batch of another size (an epoch's last) runs
    eagerly. The replayed steps equal the eager ones: the same products, the same noise (the step's
    generator is registered with the graph), the same update.

    `GraphedStep.create` returns None where a graph cannot be used: not a fused step, not on cuda (a
    backend in `BACKENDS` for the device says otherwise: the tests run the same bookkeeping on cpu
    with a stand-in that reruns the step), an optimizer whose update cannot be captured, or a torch
    without graph-safe custom generators.
    """

    WARMUP = 2
    BACKENDS: dict[str, Callable[[torch.device, torch.Generator | None], Any]] = {"cuda": _CudaGraph}

    def __init__(self, step: FusedDenseStep, optimizer: torch.optim.Optimizer, generator: torch.Generator | None,
                 backend: Any):
        self.step, self.optimizer, self.generator, self.backend = step, optimizer, generator, backend
        self.names: list[str] | None = None
        self.size: int | None = None
        self.inputs: list[torch.Tensor] = []
        self.sums: torch.Tensor | None = None  # sum over this epoch's replayed batches of size * terms
        self.replayed = 0                     # this epoch's replayed batches
        self._eager = 0
        self._pending = 0                     # replays whose optimizer step counts are not yet on the host

    @classmethod
    def create(cls, step: Any, optimizer: torch.optim.Optimizer, generator: torch.Generator | None,
               device: torch.device) -> "GraphedStep | None":
        if not isinstance(step, FusedDenseStep) or device.type not in cls.BACKENDS:
            return None
        if isinstance(optimizer, torch.optim.Adam):
            if not all(group.get("fused") for group in optimizer.param_groups):
                return None
        elif not isinstance(optimizer, (FusedRMSprop, torch.optim.SGD)):
            return None
        if device.type == "cuda" and generator is not None and \
                not hasattr(torch.cuda.CUDAGraph, "register_generator_state"):
            return None
        return cls(step, optimizer, generator, cls.BACKENDS[device.type](device, generator))

    def begin_epoch(self) -> None:
        self.replayed = 0
        if self.sums is not None:
            self.sums.zero_()

    def ran_eagerly(self, names: list[str]) -> None:
        """The loop ran a step itself (warm-up, or a batch of another size)."""
        self.names = names
        self._eager += 1

    def __call__(self, batch: tuple[torch.Tensor, ...]) -> bool:
        """Run the step on `batch` from the graph; False (and nothing done) when the loop must run it."""
        size = batch[0].shape[0]
        if self.size is None:
            if self._eager < self.WARMUP or self.names is None:
                return False
            self._capture(batch)
        if size != self.size:
            return False
        for static, value in zip(self.inputs, batch):
            static.copy_(value)
        self.backend.replay()
        self.replayed += 1
        self._pending += 1
        return True

    def _capture(self, batch: tuple[torch.Tensor, ...]) -> None:
        self.size = batch[0].shape[0]
        self.inputs = [t.clone() for t in batch]
        self.sums = torch.zeros(len(self.names), dtype=batch[0].dtype, device=batch[0].device)
        names, size = self.names, self.size
        if isinstance(self.optimizer, torch.optim.Adam):  # fused Adam keeps its step counts on the device;
            for group in self.optimizer.param_groups:      # set here, after any state a resumed run loaded
                group["capturable"] = True
            self.optimizer._warned_capturable_if_run_uncaptured = True  # its eager steps are intended

        def work() -> None:
            terms = self.step(*self.inputs, generator=self.generator)
            self.optimizer.step()
            self.sums.add_(torch.stack([terms[k] for k in names]), alpha=size)

        self.backend.capture(work)
        if not self.backend.replays_host_work:  # capturing ran the optimizer's host bookkeeping once, the
            self._pending = -1                  # device work not at all: the first replay is that step

    def settle(self) -> None:
        """Bring the host's view of the optimizer up to date (before its state is read)."""
        if self._pending and not self.backend.replays_host_work and isinstance(self.optimizer, FusedRMSprop):
            self.optimizer.advance(self._pending)
        self._pending = 0
