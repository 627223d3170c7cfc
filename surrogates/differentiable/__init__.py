"""Differentiable physics: a torch twin of the ``terzaghi`` consolidation solver
(``consolidation``) and the network that learns its parameters through it (``dpl``)."""
