"""Atelier's backend: a separate process that hosts the generative models.

Run it as ``python -m backend`` from the extension folder. Importing this package must stay
cheap and torch-free: Blender's Python imports ``backend.protocol`` from it.
"""

__version__ = "0.1.0"
