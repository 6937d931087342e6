"""The experiment layer: scenes reproducing the papers' experiments, the runner, figures and the demo command line.

The core (`phi_inverse.sip`, `updates`, `physics`, `smdp`) never imports this package.
"""
