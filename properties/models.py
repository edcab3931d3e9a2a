"""The model manager's state: local model folders kept in Atelier's preferences, and what the
last ``models`` job found in the Hugging Face cache, kept for the session only.

Public for scripts:

- ``preferences.local_models``: folders the artist added (``atelier.model_add_folder``), each
  ``LocalModel`` with its ``path``, the setting it fits (``kind``) and the class its config
  names. They live in Blender's preferences, never in a .blend.
- ``bpy.context.window_manager.atelier.models``: one ``ModelStatus`` per model of the last
  ``atelier.models_refresh`` (named by its hub id), with its cached revisions. The WindowManager
  is not saved with the .blend; the list is empty again in a new session.
"""

import bpy

from ..core.model_folders import FOLDER_KINDS

KIND_TEXTS = {
    "texture": ("Texture", "A diffusers text-to-image pipeline for textures"),
    "control": ("Control", "A diffusers ControlNet that steers textures by depth"),
    "maps": ("Maps", "Marigold's three pipelines for PBR maps"),
    "text": ("Text", "An instruct language model for colour schemes and scene ideas"),
}
KIND_ITEMS = [(kind, *KIND_TEXTS[kind]) for kind in FOLDER_KINDS]


class LocalModel(bpy.types.PropertyGroup):
    """A local model folder the artist added; ``name`` is the folder's name. Registered with the
    preferences that hold it (``preferences.py``)."""

    path: bpy.props.StringProperty(name="Folder", description="The model's folder", subtype="DIR_PATH")
    kind: bpy.props.EnumProperty(name="Kind", description="The setting this model fits", items=KIND_ITEMS)
    class_name: bpy.props.StringProperty(
        name="Class", description="The pipeline or model class its config names")


class CachedRevision(bpy.types.PropertyGroup):
    """One revision of a model in the Hugging Face cache; ``name`` is its commit hash."""

    refs: bpy.props.StringProperty(name="Refs", description="Branches or tags that point at it")
    size_gb: bpy.props.FloatProperty(name="Size (GB)", description="Disk space its files take, in GB")
    by_atelier: bpy.props.BoolProperty(
        name="Downloaded by Atelier",
        description="Atelier downloaded it, so Atelier may delete it (it deletes nothing else)")


class ModelStatus(bpy.types.PropertyGroup):
    """One model of the last refresh (``core.results.ModelRow``); ``name`` is its hub id. Sizes
    are -1 when unknown (a model outside Atelier's table)."""

    kind: bpy.props.StringProperty(
        name="Kind", description="texture, control, maps, text, preview (a tiny autoencoder) or other")
    licence: bpy.props.StringProperty(name="Licence", description="The licence of its weights")
    commercial_use: bpy.props.BoolProperty(
        name="Commercial Use", description="Its licence allows commercial use without conditions")
    download_gb: bpy.props.FloatProperty(name="Download (GB)", description="About how much it downloads",
                                         default=-1.0)
    gpu_gib: bpy.props.FloatProperty(name="GPU Memory (GiB)", description="About how much GPU memory it "
                                     "needs for one 512 px texture (fp16)", default=-1.0)
    source: bpy.props.StringProperty(name="Source", description="Where to get it")
    purpose: bpy.props.StringProperty(name="Purpose", description="What Atelier uses it for")
    revisions: bpy.props.CollectionProperty(type=CachedRevision, description="Its cached revisions")


# ModelStatus holds CachedRevision, so that one registers first; LocalModel goes with the preferences.
classes = (CachedRevision, ModelStatus)
register, unregister = bpy.utils.register_classes_factory(classes)
