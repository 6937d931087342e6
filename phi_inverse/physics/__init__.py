"""Forward operators and their inverse updates, one module per process. Field in, same Field type out; phiml only."""
from . import heat, poisson, spectral
