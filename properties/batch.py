"""The batch queue's progress, session only (``WindowManager.atelier.batch_items``): one line per item
for the Batch panel, filled by ``atelier.batch_textures`` while it runs and kept until the next
batch starts."""

import bpy

from ..core.batch import STATUSES


class BatchItemState(bpy.types.PropertyGroup):
    """One object (or CSV row) of the batch and how far it is."""

    name: bpy.props.StringProperty(name="Item", description="The object, or the CSV line and object")
    status: bpy.props.EnumProperty(
        name="Status", description="Where the item stands",
        items=[(status.upper(), status.capitalize(), "") for status in STATUSES], default="QUEUED")
    progress: bpy.props.FloatProperty(name="Progress", subtype="FACTOR", min=0.0, max=1.0)
    message: bpy.props.StringProperty(name="Message", description="Why the item failed or was skipped")


classes = (BatchItemState,)
register, unregister = bpy.utils.register_classes_factory(classes)
