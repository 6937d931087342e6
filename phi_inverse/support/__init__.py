"""What PhiML lacks or gets wrong, in one place.

* `compat`: the workarounds for PhiML defects, each version-gated and verified;
* `backends`: selecting a backend and device, describing them, limiting threads;
* `checks`: input checks with errors that name the fix;
* `jit`, `jit_update`: compiling Field functions and network updates (with learning-rate schedules);
* `networks`, `optimizers`, `checkpoint`: networks, optimizers and checkpoints PhiML does not ship.

Nothing here imports the algorithm core or the experiment layer.
"""
