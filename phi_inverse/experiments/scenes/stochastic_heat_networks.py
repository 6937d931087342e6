"""Networks of the stochastic heat scene (SMDP paper, section 4.2 and appendix D).

The correction `s_θ` and the `supervised` baseline share one architecture: by default an FNO (width 20, 12 modes,
463,245 parameters), whose spectral layers reach the whole domain from the first layer, because the reconstruction
MSE is dominated by the lowest, global modes; PhiML's periodic U-net and the authors' encoder–decoder are the
alternatives. The `fno` baseline is the paper's FNO on `x_T` and the cell coordinates, the `bnn` baseline a U-net
with Monte-Carlo dropout.
"""
from phiml import nn

from ...support import dropout_u_net, fno, heat_networks, networks

NETWORKS = ('fno', 'u-net', 'encoder-decoder')
BASELINES = ('', 'fno', 'bnn')


def shared_network(scene, inputs: int):
    """The scene's `network` (`'fno'`, `'u-net'` or `'encoder-decoder'`) with `inputs` channels and one output."""
    if scene.network == 'fno':
        return fno.fno(inputs, 1, modes=scene.modes, width=scene.width, projection=scene.projection)
    if scene.network == 'encoder-decoder':
        return heat_networks.encoder_decoder(inputs, 1)
    return nn.u_net(inputs, 1, levels=scene.levels, filters=scene.filters, batch_norm=False,
                    activation=networks.activation('LeakyReLU'), periodic=True, use_res_blocks=True)


def baseline_network(scene, architecture: str):
    """The network of a supervised baseline: `''` (the correction's architecture), `'fno'` or `'bnn'`."""
    if architecture not in BASELINES:
        raise ValueError(f"Unknown architecture '{architecture}'; choose one of {BASELINES}.")
    if architecture == 'fno':
        return fno.fno(3, 1)
    if architecture == 'bnn':
        return dropout_u_net.dropout_u_net(1, 1, filters=scene.filters, levels=scene.bnn_levels, dropout=scene.dropout)
    return shared_network(scene, inputs=1)
