"""PyTorch data parallelism for `phi_inverse.support.distributed`: synchronised batch norm, DDP, gradient averaging.

Batch norm over the global batch `x = (x_1, …, x_N)` of `N` workers normalises with the global moments
`μ = Σ_r Σ x_r / n`, `σ² = Σ_r Σ (x_r − μ)² / n`, `n = Σ_r n_r` (Ioffe & Szegedy 2015, with the batch of all
workers). `SyncBatchNorm` computes them from differentiable all-reduces, whose backward pass sums the gradients
of all workers' losses with respect to the shared moments.
"""
import torch
import torch.distributed as dist
from torch.nn.modules.batchnorm import _BatchNorm
from torch.nn.parallel import DistributedDataParallel

from . import distributed


class GlobalSum(torch.autograd.Function):
    """`Σ_r t_r` over all workers, differentiable: the gradient of `t_r` is the sum of the workers' gradients.

    Inside a `torch.jit` trace it is recorded as one Python operation that communicates whenever the trace runs
    (the tracer cannot record the process group itself). The trace keeps `group` alive, so the default group is
    passed as `None`: a trace that outlives `destroy_process_group` must not hold a process group.
    """

    @staticmethod
    def forward(ctx, tensor: torch.Tensor, group) -> torch.Tensor:
        ctx.group = group
        total = tensor.clone(memory_format=torch.contiguous_format)
        tracing = torch._C._get_tracing_state()
        torch._C._set_tracing_state(None)
        try:
            dist.all_reduce(total, group=group)
        finally:
            torch._C._set_tracing_state(tracing)
        return total

    @staticmethod
    def backward(ctx, gradient: torch.Tensor):
        return GlobalSum.apply(gradient, ctx.group), None


class SyncBatchNorm(_BatchNorm):
    """Batch norm over the batches of all workers, on any device; over the local batch in `distributed.unsynchronised()`.

    PyTorch's own `SyncBatchNorm` runs on GPUs only (DDP refuses it on the CPU) and has no local mode for one
    worker evaluating alone. State and `state_dict` are those of `torch.nn.BatchNorm*d`.
    """

    def __init__(self, *args, process_group=None, **kwargs):
        super().__init__(*args, **kwargs)
        self.process_group = process_group

    def _check_input_dim(self, input: torch.Tensor):
        if input.dim() < 2:
            raise ValueError(f"expected at least 2D input (got {input.dim()}D input)")

    def forward(self, input: torch.Tensor) -> torch.Tensor:
        group = self.process_group  # None: the default group, looked up when the trace runs
        if not (self.training and distributed.synchronised() and dist.is_initialized() and dist.get_world_size(group) > 1):
            return super().forward(input)
        return self._gathered_forward(input, group)

    def _gathered_forward(self, input: torch.Tensor, group) -> torch.Tensor:
        self._check_input_dim(input)
        factor = self._update_factor()
        reduced = [0] + list(range(2, input.dim()))
        broadcast = (1, -1) + (1,) * (input.dim() - 2)
        count = torch.full((1,), input.numel() // input.size(1), dtype=input.dtype, device=input.device)
        totals = GlobalSum.apply(torch.cat([input.sum(reduced), count]), group)
        n = totals[-1]
        mean = totals[:-1] / n
        centred = input - mean.view(broadcast)
        variance = GlobalSum.apply(centred.square().sum(reduced), group) / n
        output = centred * torch.rsqrt(variance + self.eps).view(broadcast)
        if self.affine:
            output = output * self.weight.view(broadcast) + self.bias.view(broadcast)
        if self.track_running_stats:  # detached explicitly: a torch.jit trace does not record `no_grad`
            mean, variance, n = mean.detach(), variance.detach(), n.detach()
            self.running_mean.lerp_(mean, factor)
            self.running_var.lerp_(variance * n / (n - 1), factor)
        return output

    def _update_factor(self) -> float:
        if not self.track_running_stats:
            return 0.
        self.num_batches_tracked.add_(1)
        return 1. / float(self.num_batches_tracked) if self.momentum is None else self.momentum


def convert_sync_batchnorm(module: torch.nn.Module, process_group=None) -> torch.nn.Module:
    """`module` with every batch norm layer replaced by `SyncBatchNorm`, sharing its parameters and buffers.

    Like `torch.nn.SyncBatchNorm.convert_sync_batchnorm` (whose layers DDP refuses on the CPU): the children of `module` are replaced in place, so
    optimizers and checkpoints of `module` stay valid; only a bare batch norm layer is returned as a new module.
    """
    converted = module
    if isinstance(module, _BatchNorm) and not isinstance(module, SyncBatchNorm):
        converted = SyncBatchNorm(module.num_features, module.eps, module.momentum, module.affine,
                                  module.track_running_stats, process_group=process_group)
        if module.affine:
            converted.weight, converted.bias = module.weight, module.bias
        converted.running_mean, converted.running_var = module.running_mean, module.running_var
        converted.num_batches_tracked = module.num_batches_tracked
        converted.training = module.training
    for name, child in module.named_children():
        converted.add_module(name, convert_sync_batchnorm(child, process_group))
    return converted


class GradientAveraging:
    """A PyTorch optimizer whose `step()` first replaces every gradient by its mean over all workers.

    For losses that DDP cannot see (a `torch.jit` trace); every other attribute is the wrapped optimizer's.
    """

    def __init__(self, optimizer, parameters):
        self.optimizer = optimizer
        self.averaged_parameters = list(parameters)

    def step(self, closure=None):
        for parameter in self.averaged_parameters:
            if parameter.grad is None:
                parameter.grad = torch.zeros_like(parameter)
        gradients = [parameter.grad for parameter in self.averaged_parameters]
        flat = torch._utils._flatten_dense_tensors(gradients)
        dist.all_reduce(flat)
        flat /= dist.get_world_size()
        for gradient, mean in zip(gradients, torch._utils._unflatten_dense_tensors(flat, gradients)):
            gradient.copy_(mean)
        return self.optimizer.step(closure) if closure is not None else self.optimizer.step()

    def __getattr__(self, name):
        return getattr(self.__dict__['optimizer'], name)


def broadcast_from_main(module: torch.nn.Module):
    """Overwrites the parameters and buffers of `module` with those of rank 0."""
    with torch.no_grad():
        for tensor in list(module.parameters()) + list(module.buffers()):
            dist.broadcast(tensor, 0)


def parallelize(net: torch.nn.Module, optimizer, compiled_loss: bool, world):
    """See `distributed.parallelize`."""
    net = convert_sync_batchnorm(net)
    if compiled_loss:
        broadcast_from_main(net)
        return net, GradientAveraging(optimizer, net.parameters())
    on_gpu = next(net.parameters()).device.type == 'cuda'
    return DistributedDataParallel(net, device_ids=[world.local_rank] if on_gpu else None), optimizer
