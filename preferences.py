"""Atelier's add-on preferences and the resolved settings every operator uses.

Environment variables override the preferences for headless use (``blender -b``):
``ATELIER_PYTHON``, ``ATELIER_TEXTURE_MODEL``, ``ATELIER_TEXT_MODEL``, ``ATELIER_CONTROL_MODEL``,
``ATELIER_MAPS_MODEL``, ``ATELIER_DEVICE``, ``ATELIER_TEXT_SERVER_URL``, ``ATELIER_TEXT_SERVER_MODEL``,
``ATELIER_BACKEND_URL`` (set: the backend is that remote server, whatever Backend says).
A text server's API key comes from ``ATELIER_TEXT_SERVER_KEY`` alone, and a remote backend's token
from ``ATELIER_BACKEND_TOKEN`` or the ``remote_token`` file in Atelier's user folder: no property
holds either, so neither is ever saved in a .blend or the preferences.
"""

import os
import shutil
from pathlib import Path

import bpy

from .client import BackendConfig
from .client.openai_chat import URL_ENV as TEXT_SERVER_URL_ENV
from .client.openai_chat import public_url
from .client.remote_config import TOKEN_ENV as BACKEND_TOKEN_ENV
from .client.remote_config import TOKEN_FILE_NAME, RemoteConfig, read_token_file
from .client.remote_config import URL_ENV as BACKEND_URL_ENV
from .client.text_server import MODEL_ENV as TEXT_SERVER_MODEL_ENV
from .client.text_server import TextServerConfig
from .core import maps_models
from .core.families import DEFAULT_TEXT_MODEL, DEFAULT_TEXTURE_MODEL
from .core.maps_models import CLASSIC  # the maps engine that runs inside Blender
from .core.pbr import MAPS_MODEL_ENV
from .core.styles import USER_FILE_NAME as STYLES_FILE_NAME
from .properties.maps import DEFAULT_MAPS, MAP_ITEMS, map_roles
from .properties.models import LocalModel

BUILTIN = "builtin"
# Sections other modules draw below the settings, as ``draw(layout, context, preferences)``: they
# add themselves when registered (the model manager, ``panels/model_manager.py``), so this module
# imports none of them.
SECTIONS: list = []
_MODEL_ENV = {"texture": "ATELIER_TEXTURE_MODEL", "text": "ATELIER_TEXT_MODEL",
              "control": "ATELIER_CONTROL_MODEL"}


class AtelierPreferences(bpy.types.AddonPreferences):
    bl_idname = __package__

    backend: bpy.props.EnumProperty(
        name="Backend",
        description="Where Atelier's models run (ATELIER_BACKEND_URL, when set, means a remote server)",
        items=[
            ("LOCAL", "Local Process", "A backend process on this computer, started with Backend Python"),
            ("REMOTE", "Remote Server", "A shared server running `python -m backend ray-serve`, reached "
                                        "at Remote URL with a token"),
        ],
        default="LOCAL",
    )
    backend_url: bpy.props.StringProperty(
        name="Remote URL",
        description="Address of the remote backend, e.g. https://gpu-server:8765 "
                    f"({BACKEND_URL_ENV} overrides it; the token comes from {BACKEND_TOKEN_ENV} or the "
                    f"{TOKEN_FILE_NAME} file in Atelier's user folder, never from here)",
    )
    allow_insecure: bpy.props.BoolProperty(
        name="Allow Insecure Connection",
        description="Allow plain http to a remote backend on another machine: the token and your "
                    "images then cross the network unencrypted (https or an SSH tunnel is safe)",
        default=False,
    )
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
    text_server_url: bpy.props.StringProperty(
        name="Text Server URL",
        description="Base URL (ending in /v1) of an OpenAI-compatible server (Ollama, llama.cpp, "
                    "vLLM, SGLang) that writes palettes from a prompt and scene ideas instead of the "
                    f"backend; empty = the backend ({TEXT_SERVER_URL_ENV} overrides it; the API key "
                    "comes from ATELIER_TEXT_SERVER_KEY only)",
    )
    text_server_model: bpy.props.StringProperty(
        name="Text Server Model",
        description="The model name the text server knows, e.g. 'qwen2.5:7b' for Ollama; empty = the "
                    f"one model the server lists ({TEXT_SERVER_MODEL_ENV} overrides it)",
    )
    control_model: bpy.props.StringProperty(
        name="Control Model",
        description="Hugging Face id or local diffusers folder of the depth ControlNet that steers "
                    "projected textures and restyled renders; empty = the one Atelier's table names for "
                    "the texture model's family (ATELIER_CONTROL_MODEL overrides it)",
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
    local_models: bpy.props.CollectionProperty(
        type=LocalModel, name="Local Models",
        description="Local model folders added in the model manager (atelier.model_add_folder)",
    )

    def draw(self, context: bpy.types.Context) -> None:
        layout = self.layout
        layout.use_property_split = True
        layout.prop(self, "backend")
        row = layout.row(align=True)
        if uses_remote():
            row.prop(self, "backend_url")
            row.operator("atelier.backend_doctor", text="Doctor", icon="CHECKMARK")
            layout.prop(self, "allow_insecure")
            if os.environ.get(BACKEND_URL_ENV):
                layout.label(text=f"{BACKEND_URL_ENV} = {public_url(os.environ[BACKEND_URL_ENV])}",
                             icon="INFO")
            token, problem = remote_token()
            layout.label(text=problem or f"Token: {token_source()}", icon="ERROR" if problem else "LOCKED")
        else:
            row.prop(self, "python_path")
            row.operator("atelier.backend_doctor", text="Doctor", icon="CHECKMARK")
            for name, env in (("python_path", "ATELIER_PYTHON"),):
                if os.environ.get(env):
                    layout.label(text=f"{env} overrides {name}: {os.environ[env]}", icon="INFO")
        layout.prop(self, "texture_model")
        layout.prop(self, "text_model")
        layout.prop(self, "text_server_url")
        layout.prop(self, "text_server_model")
        layout.prop(self, "control_model")
        layout.prop(self, "maps_model")
        layout.prop(self, "default_maps")
        for env in (*_MODEL_ENV.values(), TEXT_SERVER_URL_ENV, TEXT_SERVER_MODEL_ENV, MAPS_MODEL_ENV,
                    "ATELIER_DEVICE"):
            if os.environ.get(env):
                # A URL is shown without user name, password or query, where keys may sit.
                shown = public_url(os.environ[env]) if env == TEXT_SERVER_URL_ENV else os.environ[env]
                layout.label(text=f"{env} = {shown}", icon="INFO")
        layout.prop(self, "device")
        layout.prop(self, "image_storage")
        row = layout.row(align=True)
        row.prop(self, "idle_minutes")
        row.operator("atelier.free_memory", text="Free Memory Now", icon="TRASH")
        if self.doctor_report:
            box = layout.box()
            for line in self.doctor_report.splitlines()[:40]:
                box.label(text=line)
        for draw_section in SECTIONS:
            draw_section(layout, context, self)


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
    if uses_remote():
        token, problem = remote_token()
        return problem or remote_config(token).problem()
    python = resolved_python()
    if not python:
        return "Set the backend Python in Atelier's preferences (or ATELIER_PYTHON)"
    if not os.path.isfile(python):
        return f"Backend Python not found: {python}"
    return ""


def resolved_model(kind: str) -> str:
    """The model for ``kind`` ('texture', 'text' or 'control'): environment, else preference.

    The value is a Hugging Face id, a local folder, ``builtin`` (the built-in engine; texture and
    text), or '' (control: the backend picks from ``core.control_models``).
    """
    if kind not in _MODEL_ENV:
        raise ValueError(f"unknown model kind {kind!r}; use 'texture', 'text' or 'control'")
    value = os.environ.get(_MODEL_ENV[kind]) or _preference(f"{kind}_model")
    return value.strip()


def text_server_config() -> TextServerConfig | None:
    """The OpenAI-compatible text server for palettes from a prompt and scene ideas
    (ATELIER_TEXT_SERVER_URL / _MODEL, else the preferences); None when no URL is set."""
    url = (os.environ.get(TEXT_SERVER_URL_ENV) or _preference("text_server_url")).strip()
    if not url:
        return None
    model = (os.environ.get(TEXT_SERVER_MODEL_ENV) or _preference("text_server_model")).strip()
    return TextServerConfig(url=url, model=model, allow_network=allow_network())


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


def styles_file() -> Path:
    """The artist's own prompt styles (``styles.json`` at the root of Atelier's user folder; it
    need not exist)."""
    return Path(user_folder("")) / STYLES_FILE_NAME


def image_storage() -> str:
    return _preference("image_storage", "PACK")


def idle_seconds() -> float:
    prefs = addon_preferences()
    return 60.0 * prefs.idle_minutes if prefs is not None else 0.0


def uses_remote() -> bool:
    """True when the backend is a remote server: ATELIER_BACKEND_URL is set, or Backend says so."""
    return bool(os.environ.get(BACKEND_URL_ENV, "").strip()) or _preference("backend", "LOCAL") == "REMOTE"


def token_file() -> Path:
    """The file a remote backend's token may be kept in (first line): ``remote_token`` at the root of
    Atelier's user folder, outside every .blend."""
    return Path(user_folder("")) / TOKEN_FILE_NAME


def remote_token() -> tuple[str, str]:
    """(token, problem): ATELIER_BACKEND_TOKEN, else the first line of the ``remote_token`` file;
    problem is '' unless that file exists and cannot be read."""
    token = os.environ.get(BACKEND_TOKEN_ENV, "").strip()
    if token:
        return token, ""
    try:
        return read_token_file(token_file()), ""
    except OSError as exc:
        return "", f"the token file {str(token_file())!r} cannot be read: {exc.strerror}; fix its permissions"


def token_source() -> str:
    """Where the token is taken from, for the preferences (never the token itself)."""
    if os.environ.get(BACKEND_TOKEN_ENV, "").strip():
        return BACKEND_TOKEN_ENV
    return f"the {TOKEN_FILE_NAME} file in {user_folder('')}"


def remote_config(token: str | None = None) -> RemoteConfig:
    """The remote backend now: ATELIER_BACKEND_URL, else Remote URL; the token as ``remote_token``."""
    url = (os.environ.get(BACKEND_URL_ENV) or _preference("backend_url")).strip()
    prefs = addon_preferences()
    return RemoteConfig(url=url, token=remote_token()[0] if token is None else token,
                        allow_insecure=bool(getattr(prefs, "allow_insecure", False)),
                        allow_network=allow_network())


def backend_config(extension_dir: str) -> BackendConfig | RemoteConfig:
    """How to reach the backend now: the remote server when one is set, else the local process
    (offline Blender means an offline hub in the backend too)."""
    if uses_remote():
        return remote_config()
    env = {} if allow_network() else {"HF_HUB_OFFLINE": "1"}
    return BackendConfig(python=resolved_python(), cwd=extension_dir, env=tuple(sorted(env.items())))


# LocalModel first: the preferences hold a collection of them.
register, unregister = bpy.utils.register_classes_factory((LocalModel, AtelierPreferences))
