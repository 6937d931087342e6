"""phi_inverse: physics-inversion learning for PhiFlow.

* SIP, scale-invariant physics training (Holl, Koltun, Thuerey, NeurIPS 2022): `phi_inverse.sip`.
* Inverse-physics operators, Field in / Field out, on any PhiFlow backend: `phi_inverse.physics`.
"""
__version__ = '0.1.0'

from .support import compat
from . import physics, sip
from .sip import sip_loss, physics_loss, InverseUpdate

compat.apply()  # the PhiML workarounds, for backends imported before and after phi_inverse
