"""landsub engine: the data contracts (case, result, split), the solver registry,
the evaluator and the command line. Imports neither torch nor flopy."""

__version__ = "0.1.0"
