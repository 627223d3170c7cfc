"""Physics of land subsidence: the analytical Terzaghi solution (``terzaghi``), the Numba
consolidation kernels for delay interbeds (``delay_beds``) and for no-delay beds and the
coarse skeleton (``instant_beds``), skeletal storage and effective stress (``storage``),
the ``terzaghi`` solver that runs them on a case (``solver``) with its verification
helpers (``verification``), and the MODFLOW model builders (``modflow``)."""
