"""The models the hub stand-in serves in the model manager's Blender tests."""

TINY_ID = "atelier-test/tiny-sd"
# A model of Atelier's table whose licence restricts commercial use; the stand-in serves the
# tiny pipeline under its id.
NON_COMMERCIAL_ID = "black-forest-labs/FLUX.1-dev"
