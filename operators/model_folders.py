"""Local model folders in the model manager: ``atelier.model_add_folder`` checks a folder and
remembers it in Atelier's preferences, ``atelier.model_forget_folder`` forgets one (its files
stay), and ``atelier.model_use`` makes a model the one a setting uses. None needs the backend."""

from __future__ import annotations

import os

import bpy

from .. import preferences
from ..client.session import format_error
from ..core import maps_models, model_folders

# The preference each kind of model is picked in (ControlNets have no preference of their own:
# the control operators name theirs).
_SETTING = {"texture": "texture_model", "text": "text_model", "maps": "maps_model"}


def setting_for(kind: str) -> str:
    """The preference a model of ``kind`` is used through, or '' when there is none."""
    return _SETTING.get(kind, "")


def maps_setting(model: str) -> str:
    """The Maps Model preference that ``model`` means: ``classic`` and ``marigold`` as they are, a
    hub part of Marigold as ``marigold`` (the setting names the three parts together), an existing
    folder as it is; ``MapsModelError`` saying what to use for anything else."""
    name = maps_models.named(model)
    if name == maps_models.CLASSIC or os.path.isdir(os.path.expanduser(name)):
        return name
    if name in {part.hub_id for part in maps_models.MARIGOLD_PARTS}:
        return maps_models.MARIGOLD
    maps_models.part_sources(name)  # 'marigold' passes; any other name raises, saying why
    return name


def _preferences_or_error(operator: bpy.types.Operator):
    prefs = preferences.addon_preferences()
    if prefs is None:
        operator.report({"ERROR"}, "Atelier is not enabled")
    return prefs


class ATELIER_OT_model_add_folder(bpy.types.Operator):
    """Add a local model folder (a diffusers pipeline or ControlNet, a transformers model, or
    Marigold's three pipelines) to the model manager, after checking its config files"""

    bl_idname = "atelier.model_add_folder"
    bl_label = "Add Model Folder"
    bl_options = set()  # preferences, not scene data: no undo step

    directory: bpy.props.StringProperty(
        name="Folder", description="The folder the model was saved in (save_pretrained)", subtype="DIR_PATH")
    filter_folder: bpy.props.BoolProperty(default=True, options={"HIDDEN", "SKIP_SAVE"})

    def invoke(self, context: bpy.types.Context, event: bpy.types.Event) -> set[str]:
        if self.properties.is_property_set("directory") or context.window is None:
            return self.execute(context)
        context.window_manager.fileselect_add(self)
        return {"RUNNING_MODAL"}

    def execute(self, context: bpy.types.Context) -> set[str]:
        prefs = _preferences_or_error(self)
        if prefs is None:
            return {"CANCELLED"}
        folder = bpy.path.abspath(self.directory) if self.directory.startswith("//") else self.directory
        try:
            found = model_folders.inspect(folder)
        except model_folders.ModelFolderError as exc:
            self.report({"ERROR"}, f"Not added: {exc}")
            return {"CANCELLED"}
        entry = next((item for item in prefs.local_models if item.path == found.path), None)
        known = entry is not None
        if entry is None:
            entry = prefs.local_models.add()
        entry.name = bpy.path.basename(found.path.rstrip("/\\")) or found.path
        entry.path, entry.kind, entry.class_name = found.path, found.kind, found.class_name
        context.preferences.is_dirty = True  # saved with the preferences, never in a .blend
        kind = entry.bl_rna.properties["kind"].enum_items[found.kind].name.lower()
        self.report({"INFO"}, f"{'Checked again' if known else 'Added'}: {entry.name} ({kind} model"
                              f"{', ' + found.class_name if found.class_name else ''})")
        return {"FINISHED"}


class ATELIER_OT_model_forget_folder(bpy.types.Operator):
    """Remove a local model folder from the model manager; its files stay where they are"""

    bl_idname = "atelier.model_forget_folder"
    bl_label = "Forget Model Folder"
    bl_options = set()

    path: bpy.props.StringProperty(name="Folder", description="The folder to forget", subtype="DIR_PATH")

    def execute(self, context: bpy.types.Context) -> set[str]:
        prefs = _preferences_or_error(self)
        if prefs is None:
            return {"CANCELLED"}
        index = next((i for i, item in enumerate(prefs.local_models) if item.path == self.path), -1)
        if index < 0:
            self.report({"ERROR"}, f"{self.path!r} is not among the model manager's folders")
            return {"CANCELLED"}
        prefs.local_models.remove(index)
        context.preferences.is_dirty = True
        self.report({"INFO"}, f"Forgot {self.path} (its files were not touched)")
        return {"FINISHED"}


class ATELIER_OT_model_use(bpy.types.Operator):
    """Use this model from now on: set it as the Texture, Text or Maps Model preference"""

    bl_idname = "atelier.model_use"
    bl_label = "Use Model"
    bl_options = set()

    model: bpy.props.StringProperty(name="Model", description="A hub id or a local model folder")
    kind: bpy.props.EnumProperty(name="Kind", description="The setting to put it in",
                                 items=[(kind, kind.title(), f"The {kind.title()} Model preference")
                                        for kind in _SETTING])

    def execute(self, context: bpy.types.Context) -> set[str]:
        prefs = _preferences_or_error(self)
        if prefs is None:
            return {"CANCELLED"}
        value = self.model.strip()
        if not value:
            self.report({"ERROR"}, "No model was named; pass a hub id or a folder")
            return {"CANCELLED"}
        if self.kind == "maps":
            try:
                value = maps_setting(value)
            except maps_models.MapsModelError as exc:
                self.report({"ERROR"}, format_error(exc.message, exc.hint))
                return {"CANCELLED"}
        setting = setting_for(self.kind)
        setattr(prefs, setting, value)
        context.preferences.is_dirty = True
        label = prefs.bl_rna.properties[setting].name
        if self.kind != "maps" and preferences.resolved_model(self.kind) != value:
            self.report({"WARNING"}, f"{label}: {value}, but an environment variable overrides it "
                                     "in this session")
        else:
            self.report({"INFO"}, f"{label}: {value}")
        return {"FINISHED"}


classes = (ATELIER_OT_model_add_folder, ATELIER_OT_model_forget_folder, ATELIER_OT_model_use)
register, unregister = bpy.utils.register_classes_factory(classes)
