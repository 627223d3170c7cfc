"""MODFLOW through FloPy: finding the executables, building and running MODFLOW 6 CSUB
and MODFLOW-NWT/2005 SUB models from a case, and reading their output.

Importing this package imports neither flopy nor numpy; the solvers do, when used."""
