"""phi_inverse's Poisson SIP step vs the same step written directly in PyTorch, without PhiFlow.

    python benchmarks/framework_overhead.py [--res 32] [--batch 32] [--repeat 30]

Both sides run the same torch U-net on the same batch with the same Adam settings; the step is: predict x̂,
simulate y = P(sg(x̂)) with the exact sine-transform solver, Δx = −∇²(y − y*), L̃ = ½‖x̂ − sg(x̂ + Δx)‖²,
backpropagate, update. The ratio is PhiFlow's and phi_inverse's overhead (aim ≤ 1.2).
"""
import argparse
import copy

import numpy as np
import torch
import torch.nn.functional as F

from phi_inverse.support import backends
from table import print_table


def torch_sip_step(n: int, device, dtype=torch.float32):
    """One SIP step in plain PyTorch for (batch, 1, n, n) potentials with zero boundaries and unit cells."""
    index = torch.arange(1, n + 1, dtype=dtype, device=device)
    sine = torch.sin(torch.pi * torch.outer(index, index) / (n + 1))
    eigenvalues = 2 * torch.cos(torch.pi * index / (n + 1)) - 2
    inverse_eigenvalues = 1 / (eigenvalues[:, None] + eigenvalues[None, :])
    scale = (2 / (n + 1)) ** 2

    def poisson(x):
        return scale * sine @ ((sine @ x @ sine) * inverse_eigenvalues) @ sine

    def laplace(y):
        padded = F.pad(y, (1, 1, 1, 1))
        return padded[..., :-2, 1:-1] + padded[..., 2:, 1:-1] + padded[..., 1:-1, :-2] + padded[..., 1:-1, 2:] - 4 * y

    def step(net, optimizer, y_target: torch.Tensor):
        optimizer.zero_grad()
        x_pred = net(y_target)
        x = x_pred.detach()
        x_tilde = x - laplace(poisson(x) - y_target)
        loss = 0.5 * ((x_pred - x_tilde) ** 2).sum(dim=(1, 2, 3)).mean()
        loss.backward()
        optimizer.step()
        return loss
    return step


def rows(res: int = 32, batch_size: int = 32, repeat: int = 30, device=None) -> list:
    backends.select('torch', device)
    from phi import math
    from phiml import nn
    from phi_inverse.experiments.scenes.base import data_seed
    from phi_inverse.experiments.scenes.poisson import PoissonScene
    from phi_inverse.experiments.timing import interleaved_medians

    scene = PoissonScene(res=res)
    batch = scene.sample(batch_size, data_seed(0, 1, 0))
    math.seed(0)
    phi_net = scene.network()
    torch_net = copy.deepcopy(phi_net)
    phi_optimizer, torch_optimizer = nn.adam(phi_net, 1e-3), nn.adam(torch_net, 1e-3)
    y_native = batch.y.values.native('batch,x,y')[:, None]
    plain_step = torch_sip_step(res, y_native.device)

    def phi_loss(batch):
        loss, y_loss = scene.sip_loss(scene.predict(phi_net, batch), batch)
        return math.mean(loss, math.batch), y_loss
    jit_loss = math.jit_compile(phi_loss)
    _check_same_loss(phi_loss, plain_step, torch_net, batch, y_native)
    times = interleaved_medians({
        'torch': lambda: plain_step(torch_net, torch_optimizer, y_native).item(),
        'phi_inverse': lambda: nn.update_weights(phi_net, phi_optimizer, phi_loss, batch)[0],
        'phi_inverse_jit': lambda: nn.update_weights(phi_net, phi_optimizer, jit_loss, batch)[0],
    }, repeat, warmup=5)
    name = f'SIP step {res}x{res}, batch {batch_size}: phi_inverse / plain PyTorch'
    return [dict(name=name + ' (eager)', baseline=times['torch'], value=times['phi_inverse'], ratio=times['phi_inverse'] / times['torch'], aim='<= 1.2'),
            dict(name=name + ' (jit)', baseline=times['torch'], value=times['phi_inverse_jit'], ratio=times['phi_inverse_jit'] / times['torch'], aim='<= 1.2')]


def _check_same_loss(phi_loss, plain_step, torch_net, batch, y_native):
    """Both implementations must compute the same loss on the same network before their speed is compared."""
    phi_value = float(phi_loss(batch)[0].numpy())
    state = copy.deepcopy(torch_net.state_dict())
    probe_optimizer = torch.optim.SGD(torch_net.parameters(), lr=0.)
    torch_value = float(plain_step(torch_net, probe_optimizer, y_native).item())
    torch_net.load_state_dict(state)
    if not np.isclose(phi_value, torch_value, rtol=1e-3):
        raise AssertionError(f"The two SIP steps disagree: phi_inverse loss {phi_value}, plain PyTorch loss {torch_value}.")


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--res', type=int, default=32)
    parser.add_argument('--batch', type=int, default=32)
    parser.add_argument('--repeat', type=int, default=30)
    parser.add_argument('--device', choices=('cpu', 'gpu'), default=None)
    args = parser.parse_args(argv)
    table = rows(args.res, args.batch, args.repeat, args.device)
    print_table(f'Framework overhead on torch ({backends.describe_device(backends.get("torch"))})', table)
    return table


if __name__ == '__main__':
    main()
