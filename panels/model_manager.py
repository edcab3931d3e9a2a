"""The model manager, drawn in Atelier's preferences (a section of ``preferences.SECTIONS``):
the models Atelier knows with licence, size, GPU memory and what the Hugging Face cache holds of
each, and the local model folders.

Before the first refresh of a session the rows come from Atelier's table alone
(``core.model_catalog``); after it, from the list the ``models`` job returned, which adds the
cached revisions and any other model Atelier downloaded.
"""

from __future__ import annotations

import os
from typing import NamedTuple

import bpy

from .. import preferences
from ..core import model_catalog
from ..operators.model_folders import setting_for
from ..operators.models import OFFLINE, licence_note, size_text

HEADINGS = {"texture": "Texture models", "control": "Depth ControlNets", "maps": "Maps (Marigold)",
            "text": "Text models", "preview": "Tiny autoencoders (live preview)",
            "other": "Other models Atelier downloaded"}
JOB_OPERATORS = ("atelier.models_refresh", "atelier.model_download", "atelier.model_delete")
TOKEN_TEXT = ("Hub token: HF_TOKEN or `hf auth login`, read by the backend; Atelier never stores "
              "it in the .blend or its preferences")


class ModelLine(NamedTuple):
    """One model as drawn, from Atelier's table or from the last refresh."""

    id: str
    kind: str
    licence: str
    commercial_use: bool
    download_gb: float  # < 0: unknown
    gpu_gib: float  # < 0: unknown
    purpose: str
    revisions: tuple  # CachedRevision items of the refresh
    listed: bool  # the cache was looked at this session


def model_lines(state) -> list[ModelLine]:
    """The last refresh's models, else Atelier's table (cache not looked at yet)."""
    if len(state.models):
        return [ModelLine(item.name, item.kind, item.licence, item.commercial_use, item.download_gb,
                          item.gpu_gib, item.purpose, tuple(item.revisions), True) for item in state.models]
    return [ModelLine(entry.id, entry.kind, entry.licence, entry.commercial_use, entry.download_gb,
                      entry.gpu_gib, entry.purpose, (), False) for entry in model_catalog.CATALOG]


def draw_model_manager(layout: bpy.types.UILayout, context: bpy.types.Context, prefs) -> None:
    """The Models box of Atelier's preferences."""
    box = layout.box()
    header = box.row()
    header.label(text="Models", icon="FILE_3D")
    header.operator("atelier.models_refresh", text="Refresh", icon="FILE_REFRESH")
    # Any hub model, typed in the download dialog (which shows its licence and the tick).
    header.operator("atelier.model_download", text="Download by Id…", icon="IMPORT")
    state = context.window_manager.atelier
    if state.running and state.job_operator in JOB_OPERATORS:
        row = box.row(align=True)
        row.progress(factor=state.progress, type="BAR", text=f"{state.job_label}: {state.stage}")
        row.operator("atelier.cancel_job", text="", icon="CANCEL")
    elif state.last_error and state.last_error_operator in JOB_OPERATORS:
        row = box.row()
        row.alert = True
        row.label(text=state.last_error, icon="ERROR")
    if not preferences.allow_network():
        row = box.row()
        row.alert = True
        row.label(text=OFFLINE, icon="INTERNET_OFFLINE")
    box.label(text=TOKEN_TEXT, icon="LOCKED")
    if os.environ.get("HF_TOKEN"):
        box.label(text="HF_TOKEN is set in Blender's environment (the backend uses it)", icon="INFO")
    lines = model_lines(state)
    if not lines[0].listed:
        box.label(text="Press Refresh to see what the Hugging Face cache holds", icon="INFO")
    for kind in (*model_catalog.KINDS, "other"):
        members = [line for line in lines if line.kind == kind]
        if members:
            box.separator()
            box.label(text=HEADINGS[kind])
            for line in members:
                _draw_model(box.column(align=True), line)
    _draw_folders(box, prefs)


def _draw_model(column: bpy.types.UILayout, line: ModelLine) -> None:
    top = column.row()
    top.label(text=line.id)
    if setting_for(line.kind):
        use = top.operator("atelier.model_use", text="Use", icon="CHECKMARK")
        use.model, use.kind = line.id, line.kind
    download = top.operator("atelier.model_download", text="Update" if line.revisions else "Download",
                            icon="IMPORT")
    download.model = line.id
    licence = column.row()
    if line.commercial_use:
        licence.label(text=f"Licence: {line.licence}", icon="CHECKMARK")
    else:
        licence.alert = True  # the artist must see this before downloading
        note = licence_note(line.licence) or "restricts commercial use"
        licence.label(text=f"Restricts commercial use: {line.licence} ({note})", icon="ERROR")
    needs = [line.purpose] if line.purpose else []
    if line.download_gb >= 0:
        needs.append(f"about {line.download_gb:g} GB to download")
    if line.gpu_gib >= 0:
        needs.append(f"about {line.gpu_gib:g} GiB of GPU memory")
    if needs:
        column.label(text="; ".join(needs))
    if line.listed and not line.revisions:
        column.label(text="Not cached", icon="BLANK1")
    for revision in line.revisions:
        row = column.row()
        refs = f" ({revision.refs})" if revision.refs else ""
        whose = "downloaded by Atelier" if revision.by_atelier else "not downloaded by Atelier"
        size = size_text(revision.size_gb * 1e9)
        row.label(text=f"Cached: revision {revision.name[:12]}{refs}, {size}, {whose}", icon="DISK_DRIVE")
        if revision.by_atelier:
            delete = row.operator("atelier.model_delete", text="Delete", icon="TRASH")
            delete.model, delete.revision = line.id, revision.name


def _draw_folders(box: bpy.types.UILayout, prefs) -> None:
    box.separator()
    box.label(text="Local model folders")
    for item in prefs.local_models:
        row = box.row()
        kind = item.bl_rna.properties["kind"].enum_items[item.kind].name
        row.label(text=f"{item.name} ({kind}{', ' + item.class_name if item.class_name else ''})",
                  icon="FILE_FOLDER")
        row.label(text=item.path)
        if setting_for(item.kind):
            use = row.operator("atelier.model_use", text="Use", icon="CHECKMARK")
            use.model, use.kind = item.path, item.kind
        forget = row.operator("atelier.model_forget_folder", text="", icon="X")
        forget.path = item.path
    box.operator("atelier.model_add_folder", text="Add Folder…", icon="ADD")


def register() -> None:
    preferences.SECTIONS.append(draw_model_manager)


def unregister() -> None:
    preferences.SECTIONS.remove(draw_model_manager)
