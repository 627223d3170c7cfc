"""landsub surrogates: data-driven and hybrid solvers (baselines, torch models, training).

Modules that need torch import it themselves; importing this package does not."""
