"""Small tensor operations shared by the scene3d methods (``scatter``: grouped reductions).

This file imports nothing, so ``import sslcli_scene3d.ops`` stays cheap.
"""
