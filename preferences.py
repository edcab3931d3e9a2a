"""Atelier's add-on preferences and the resolved settings every operator uses.

Environment variables override the preferences for headless use (``blender -b``):
``ATELIER_PYTHON``, ``ATELIER_TEXTURE_MODEL``, ``ATELIER_TEXT_MODEL``, ``ATELIER_MAPS_MODEL``,
``ATELIER_DEVICE``.
"""

import os
import shutil

import bpy

from .client import BackendConfig
from .core import maps_models
from .core.families import DEFAULT_TEXT_MODEL, DEFAULT_TEXTURE_MODEL
from .core.maps_models import CLASSIC  # the maps engine that runs inside Blender
from .core.pbr import MAPS_MODEL_ENV
from .properties.maps import DEFAULT_MAPS, MAP_ITEMS, map_roles

BUILTIN = "builtin"
_MODEL_ENV = {"texture": "ATELIER_TEXTURE_MODEL", "text": "ATELIER_TEXT_MODEL"}


class AtelierPreferences(bpy.types.AddonPreferences):
    bl_idname = __package__

    python_path: bpy.props.StringProperty(
        name="Backend Python",
        description="Python interpreter of the environment with torch and diffusers that runs "
                    "Atelier's backend (ATELIER_PYTHON overrides it)",
        subtype="FILE_PATH",
    )
    texture_model: bpy.props.StringProperty(
        name="Texture Model",
        description="Hugging Face model id or local diffusers folder for textures, or 'builtin' "
                    "(ATELIER_TEXTURE_MODEL overrides it)",
        default=DEFAULT_TEXTURE_MODEL,
    )
    text_model: bpy.props.StringProperty(
        name="Text Model",
        description="Hugging Face model id or local folder of an instruct language model for "
                    "colour schemes and scene ideas, or 'builtin' (ATELIER_TEXT_MODEL overrides it)",
        default=DEFAULT_TEXT_MODEL,
    )
    maps_model: bpy.props.StringProperty(
        name="Maps Model",
        description="What makes PBR maps: 'classic' (no weights, runs inside Blender), 'marigold' "
                    "(learned, in the backend) or a local folder holding Marigold's three pipelines "
                    f"({MAPS_MODEL_ENV} overrides it)",
        default=CLASSIC,
    )
    default_maps: bpy.props.EnumProperty(
        name="Default Maps",
        description="The PBR maps every new texture gets when the call does not name them (the "
                    "Texture panel's Maps row)",
        items=MAP_ITEMS, options={"ENUM_FLAG"}, default=DEFAULT_MAPS,
    )
    device: bpy.props.EnumProperty(
        name="Device",
        description="Where the backend runs the models (ATELIER_DEVICE overrides it)",
        items=[
            ("auto", "Automatic", "CUDA if present, else Apple MPS, else the CPU"),
            ("cuda", "CUDA", "An NVIDIA GPU"),
            ("mps", "Apple MPS", "Apple silicon GPU"),
            ("cpu", "CPU", "The processor (slow, always available)"),
        ],
        default="auto",
    )
    image_storage: bpy.props.EnumProperty(
        name="Generated Images",
        description="Where generated images are kept",
        items=[
            ("PACK", "Pack into .blend", "Store the images inside the .blend file"),
            ("SAVE", "Save as Files", "Save next to the .blend under //textures/ once the file "
                                      "is saved, else in Atelier's user folder"),
        ],
        default="PACK",
    )
    idle_minutes: bpy.props.IntProperty(
        name="Unload Models After (min)",
        description="Minutes without a job after which the backend frees its models and gives "
                    "GPU memory back to Cycles (0 = keep them loaded)",
        default=10, min=0, max=24 * 60,
    )
    doctor_report: bpy.props.StringProperty(
        name="Doctor Report",
        description="What the last Doctor run found",
    )

    def draw(self, context: bpy.types.Context) -> None:
        layout = self.layout
        layout.use_property_split = True
        row = layout.row(align=True)
        row.prop(self, "python_path")
        row.operator("atelier.backend_doctor", text="Doctor", icon="CHECKMARK")
        for name, env in (("python_path", "ATELIER_PYTHON"),):
            if os.environ.get(env):
                layout.label(text=f"{env} overrides {name}: {os.environ[env]}", icon="INFO")
        layout.prop(self, "texture_model")
        layout.prop(self, "text_model")
        layout.prop(self, "maps_model")
        layout.prop(self, "default_maps")
        for env in (*_MODEL_ENV.values(), MAPS_MODEL_ENV, "ATELIER_DEVICE"):
            if os.environ.get(env):
                layout.label(text=f"{env} = {os.environ[env]}", icon="INFO")
        layout.prop(self, "device")
        layout.prop(self, "image_storage")
        row = layout.row(align=True)
        row.prop(self, "idle_minutes")
        row.operator("atelier.free_memory", text="Free Memory Now", icon="TRASH")
        if self.doctor_report:
            box = layout.box()
            for line in self.doctor_report.splitlines()[:40]:
                box.label(text=line)


def addon_preferences() -> AtelierPreferences | None:
    """This extension's preferences, or None while it is not enabled."""
    addon = bpy.context.preferences.addons.get(__package__)
    return addon.preferences if addon is not None else None


def _preference(name: str, default: str = "") -> str:
    prefs = addon_preferences()
    return str(getattr(prefs, name, default)) if prefs is not None else default


def resolved_python() -> str:
    """The backend interpreter (ATELIER_PYTHON, else the preference); '' when not set.

    A bare name such as ``python3`` is looked up on PATH.
    """
    value = os.environ.get("ATELIER_PYTHON") or _preference("python_path")
    if not value:
        return ""
    value = bpy.path.abspath(value) if value.startswith("//") else os.path.expanduser(value)
    return shutil.which(value) or value


def backend_problem() -> str:
    """Why the backend cannot be started, or '' when it can (said by panels and operators)."""
    python = resolved_python()
    if not python:
        return "Set the backend Python in Atelier's preferences (or ATELIER_PYTHON)"
    if not os.path.isfile(python):
        return f"Backend Python not found: {python}"
    return ""


def resolved_model(kind: str) -> str:
    """The model for ``kind`` ('texture' or 'text'): environment, else preference.

    The value is a Hugging Face id, a local folder, or ``builtin`` (the built-in engine).
    """
    if kind not in _MODEL_ENV:
        raise ValueError(f"unknown model kind {kind!r}; use 'texture' or 'text'")
    value = os.environ.get(_MODEL_ENV[kind]) or _preference(f"{kind}_model")
    return value.strip()


def resolved_maps_model() -> str:
    """What makes PBR maps: ATELIER_MAPS_MODEL, else the preference; 'classic', 'marigold' or a
    folder. Without a backend Python nothing but the classic engine can run, so it is 'classic'."""
    value = maps_models.named(os.environ.get(MAPS_MODEL_ENV) or _preference("maps_model", CLASSIC)) or CLASSIC
    return value if value == CLASSIC or not backend_problem() else CLASSIC


def default_maps() -> tuple[str, ...]:
    """The maps a texture gets when the call does not name them (role names, e.g. 'normal')."""
    prefs = addon_preferences()
    return map_roles(prefs.default_maps if prefs is not None else DEFAULT_MAPS)


def resolved_device() -> str:
    """'auto', 'cuda', 'cuda:N', 'mps' or 'cpu' (ATELIER_DEVICE, else the preference)."""
    return (os.environ.get("ATELIER_DEVICE") or _preference("device", "auto")).strip() or "auto"


def allow_network() -> bool:
    """Downloads only when Blender allows online access (``--online-mode`` headless)."""
    return bool(bpy.app.online_access)


def user_folder(name: str) -> str:
    """Atelier's own folder ``name`` in Blender's user data (created): never the extension's."""
    return bpy.utils.extension_path_user(__package__, path=name, create=True)


def image_storage() -> str:
    return _preference("image_storage", "PACK")


def idle_seconds() -> float:
    prefs = addon_preferences()
    return 60.0 * prefs.idle_minutes if prefs is not None else 0.0


def backend_config(extension_dir: str) -> BackendConfig:
    """How to start the backend now; offline Blender means an offline hub in the backend too."""
    env = {} if allow_network() else {"HF_HUB_OFFLINE": "1"}
    return BackendConfig(python=resolved_python(), cwd=extension_dir, env=tuple(sorted(env.items())))


register, unregister = bpy.utils.register_classes_factory((AtelierPreferences,))
