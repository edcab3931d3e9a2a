"""Atelier's backend: the separate process that hosts the generative models.

Run it as ``python -m backend`` from the extension folder. It imports the shared ``core``
package (protocol, schemas, rules) and never any Blender-side module; Blender never imports it.
"""
