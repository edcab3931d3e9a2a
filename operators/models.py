"""The model manager's backend jobs: ``atelier.models_refresh`` lists the models Atelier knows
with what the Hugging Face cache holds of each, ``atelier.model_download`` downloads one and
``atelier.model_delete`` deletes a revision Atelier downloaded. Each is a backend job
(progress, Esc cancels, blocking under ``blender -b``); a download or a deletion refreshes the
list as the second job of its chain. The list is session state (``WindowManager.atelier.models``).

A download needs Blender's online access (Preferences > System > Network, ``--online-mode``
headless); a licence that restricts commercial use needs ``accept_licence``, ticked in the
dialog the button opens (a script passes ``accept_licence=True``). The dialog always shows the
licence, and the tick whenever Atelier's table does not say the licence allows commercial use: for
a model outside the table the backend reads the hub's licence tag and refuses any tag that is not
known to allow it unless the tick was given. A deletion asks first in the UI and is refused for
any revision the list does not mark as downloaded by Atelier. The hub token is the backend's
business (``HF_TOKEN`` or ``hf auth login``); Blender never stores one.
"""

from __future__ import annotations

import os

import bpy

from .. import preferences
from ..client import session
from ..client.session import JobRefused
from ..core import model_catalog, protocol
from ..core.results import DeleteModelResult, DownloadResult, ModelsResult
from .backend_operator import BackendJobOperator
from .doctor import preferences_job_may_start, redraw_preferences

OFFLINE = ("Downloads need online access: Allow Online Access in Preferences > System > Network "
           "(blender -b: start it with --online-mode)")
HUB_OFFLINE = ("HF_HUB_OFFLINE is set in Blender's environment, which keeps the backend off the "
               "hub: start Blender without it to download")
UNKNOWN_LICENCE = "Licence: unknown, read the model card on the hub"
NOT_LISTED = "refresh the model list first (the Refresh button, or bpy.ops.atelier.models_refresh())"
_TRUE_WORDS = ("1", "true", "yes", "on")


def store_models(state, result: ModelsResult) -> None:
    """Put ``result``'s rows in the session's list (``WindowManager.atelier.models``)."""
    state.models.clear()
    for row in result.models:
        item = state.models.add()
        item.name, item.kind, item.licence = row.id, row.kind, row.licence
        item.commercial_use = row.commercial_use
        item.download_gb = -1.0 if row.download_gb is None else row.download_gb
        item.gpu_gib = -1.0 if row.gpu_gib is None else row.gpu_gib
        item.source, item.purpose = row.source, row.purpose
        for cached in row.revisions:
            revision = item.revisions.add()
            revision.name, revision.refs = cached.revision, ", ".join(cached.refs)
            revision.size_gb, revision.by_atelier = cached.size_bytes / 1e9, cached.atelier


def size_text(size_bytes: float) -> str:
    """'5.2 MB', '13.90 GB': GB from 10 MB up."""
    return f"{size_bytes / 1e9:.2f} GB" if size_bytes >= 1e7 else f"{size_bytes / 1e6:.1f} MB"


def licence_note(licence: str) -> str:
    """What a licence of ``core.model_catalog.LICENCES`` means for commercial use ('' if unknown)."""
    return model_catalog.LICENCES.get(licence, (True, ""))[1]


def needs_tick(model: str) -> bool:
    """Whether Atelier's table says ``model``'s licence restricts commercial use, so Blender
    refuses the download without the tick (the backend asks the hub about models outside the
    table)."""
    entry = model_catalog.find(model)
    return entry is not None and not entry.commercial_use


def offers_tick(model: str) -> bool:
    """Whether the download dialog shows the licence tick: unless Atelier's table says ``model``'s
    licence allows commercial use (outside the table only the backend, asking the hub, knows)."""
    entry = model_catalog.find(model)
    return entry is None or not entry.commercial_use


def _interactive(context: bpy.types.Context) -> bool:
    return not bpy.app.background and context.window is not None


class ModelJobOperator(BackendJobOperator):
    """A model manager job: no undo step (nothing in the scene changes), one at a time, and the
    list refreshed by the last job of the chain."""

    bl_options = set()
    # Set by the dialog the button opens; its OK then starts the job asynchronously (``execute``
    # would block until the job ends).
    confirmed: bpy.props.BoolProperty(options={"HIDDEN", "SKIP_SAVE"})
    _first_result = None  # the download or deletion, while the list is refreshed after it

    @classmethod
    def poll(cls, context: bpy.types.Context) -> bool:
        return preferences_job_may_start(cls, context)

    def ask_first(self, context: bpy.types.Context, event: bpy.types.Event) -> set[str] | None:
        """The dialog to show before the job starts, or None to start it at once."""
        return None

    def invoke(self, context: bpy.types.Context, event: bpy.types.Event) -> set[str]:
        if not self.confirmed and _interactive(context):
            self.confirmed = True
            try:
                dialog = self.ask_first(context, event)
            except JobRefused as exc:
                self._report_error(context, str(exc))
                return {"CANCELLED"}
            if dialog is not None:
                return dialog
        return super().invoke(context, event)

    def execute(self, context: bpy.types.Context) -> set[str]:
        if self.confirmed and _interactive(context):  # OK in the dialog: run it as the button does
            call = getattr(bpy.ops.atelier, self.bl_idname.split(".", 1)[1])
            names = [name for name in self.bl_rna.properties.keys() if name not in ("rna_type", "confirmed")]
            return call("INVOKE_DEFAULT", confirmed=True, **{name: getattr(self, name) for name in names})
        return super().execute(context)

    def follow_up(self, context: bpy.types.Context, result) -> protocol.Request | None:
        if isinstance(result, ModelsResult):
            return None
        self._first_result = result  # for the report, once the list is refreshed
        return protocol.ModelsRequest(id=session.new_request_id())

    def apply_result(self, context: bpy.types.Context, result: ModelsResult) -> str:
        store_models(context.window_manager.atelier, result)
        redraw_preferences(context)
        return self.report_text(result)

    def report_text(self, result: ModelsResult) -> str:
        raise NotImplementedError

    # The model manager shows the progress and the last error in the preferences too.

    def _show_progress(self, context: bpy.types.Context, job) -> None:
        super()._show_progress(context, job)
        redraw_preferences(context)

    def _report_error(self, context: bpy.types.Context, message: str) -> None:
        super()._report_error(context, message)
        redraw_preferences(context)


class ATELIER_OT_models_refresh(ModelJobOperator, bpy.types.Operator):
    """List the models Atelier knows with what the Hugging Face cache holds of each (reads the
    cache only; nothing is downloaded)"""

    bl_idname = "atelier.models_refresh"
    bl_label = "Refresh Models"

    def make_request(self, context: bpy.types.Context, request_id: str) -> protocol.Request:
        return protocol.ModelsRequest(id=request_id)

    def report_text(self, result: ModelsResult) -> str:
        cached = [row for row in result.models if row.revisions]
        ours = sum(revision.atelier for row in cached for revision in row.revisions)
        return (f"{len(result.models)} models; {len(cached)} cached"
                f"{f' ({ours} revisions downloaded by Atelier)' if ours else ''}")


class ATELIER_OT_model_download(ModelJobOperator, bpy.types.Operator):
    """Download a model into the Hugging Face cache (safetensors, configs and tokenizer files
    only). A licence that restricts commercial use must be accepted first"""

    bl_idname = "atelier.model_download"
    bl_label = "Download Model"

    model: bpy.props.StringProperty(name="Model", description="The model's Hugging Face id (owner/name)")
    revision: bpy.props.StringProperty(
        name="Revision", description="A branch, tag or commit (empty = the default branch)")
    accept_licence: bpy.props.BoolProperty(
        name="Accept Licence",
        description="I have read the model's licence and accept it (needed for a licence that "
                    "restricts commercial use, or one Atelier's table and the hub do not show to "
                    "allow it)")

    def job_label(self) -> str:
        return f"Download {self.model.strip()}"

    def ask_first(self, context: bpy.types.Context, event: bpy.types.Event) -> set[str]:
        """Every download from the UI opens the dialog: the model, its licence and the tick."""
        self._check_online()
        return context.window_manager.invoke_props_dialog(
            self, width=520, title="Download Model", confirm_text="Download")

    def draw(self, context: bpy.types.Context) -> None:
        """The download dialog: which model, its licence, and the tick unless Atelier's table says
        the licence allows commercial use."""
        column = self.layout.column()
        column.prop(self, "model")
        column.prop(self, "revision")
        model = self.model.strip()
        if not model:
            return
        entry = model_catalog.find(model)
        if entry is None:
            column.label(text=UNKNOWN_LICENCE, icon="QUESTION")
            column.label(text="Without the tick, Atelier downloads it only if the hub names a licence "
                              "that allows commercial use.")
        elif entry.commercial_use:
            column.label(text=f"Licence: {entry.licence} ({licence_note(entry.licence)})", icon="CHECKMARK")
        else:
            column.label(text=f"{entry.id} is under the {entry.licence}:")
            row = column.row()
            row.alert = True
            row.label(text=licence_note(entry.licence) or "it restricts commercial use", icon="ERROR")
        if offers_tick(model):
            page = entry.id if entry is not None else model
            column.label(text=f"Read it on huggingface.co/{page} before you accept it.")
            column.prop(self, "accept_licence", text="I have read this licence and accept it")

    def _check_online(self) -> None:
        """``JobRefused`` when this Blender may not download."""
        if not preferences.allow_network():
            raise JobRefused(OFFLINE)
        if os.environ.get("HF_HUB_OFFLINE", "").strip().lower() in _TRUE_WORDS:
            raise JobRefused(HUB_OFFLINE)

    def _check(self) -> str:
        """The model id, or ``JobRefused`` saying what stops the download."""
        model = self.model.strip()
        if not model:
            raise JobRefused("Name the model to download (its Hugging Face id, owner/name)")
        self._check_online()
        if needs_tick(model) and not self.accept_licence:
            entry = model_catalog.find(model)
            raise JobRefused(f"{model} is under the {entry.licence} ({licence_note(entry.licence)}): "
                             "read it, then tick 'accept licence' in the download dialog "
                             "(a script passes accept_licence=True)")
        return model

    def make_request(self, context: bpy.types.Context, request_id: str) -> protocol.Request:
        return protocol.DownloadRequest(id=request_id, model=self._check(), revision=self.revision.strip(),
                                        accept_licence=self.accept_licence)

    def report_text(self, result: ModelsResult) -> str:
        done: DownloadResult = self._first_result
        left_out = f", {done.skipped} left out" if done.skipped else ""
        return (f"Downloaded {done.model} at {done.revision[:12]}: {done.files} files, "
                f"{size_text(done.bytes)}{left_out}")


class ATELIER_OT_model_delete(ModelJobOperator, bpy.types.Operator):
    """Delete a cached revision of a model that Atelier downloaded (nothing else is ever deleted)"""

    bl_idname = "atelier.model_delete"
    bl_label = "Delete Model"

    model: bpy.props.StringProperty(name="Model", description="The model's Hugging Face id")
    revision: bpy.props.StringProperty(
        name="Revision", description="The cached commit to delete (empty = the one Atelier downloaded, "
                                     "when there is one)")

    def job_label(self) -> str:
        return f"Delete {self.model.strip()}"

    def _revision(self, context: bpy.types.Context):
        """The list's entry for the revision to delete, or ``JobRefused`` saying why it is not
        Atelier's to delete."""
        model = self.model.strip()
        row = next((item for item in context.window_manager.atelier.models
                    if item.name.lower() == model.lower() and model), None)
        if row is None:
            raise JobRefused(f"{model or 'No model'} is not in the model list; {NOT_LISTED}")
        wanted = self.revision.strip().lower()
        if wanted:
            found = [revision for revision in row.revisions if revision.name.startswith(wanted)]
            if len(found) != 1:
                cached = ", ".join(revision.name[:12] for revision in row.revisions) or "none"
                raise JobRefused(f"{row.name} has {'no' if not found else 'more than one'} cached "
                                 f"revision {wanted!r} (cached: {cached}); {NOT_LISTED}")
            revision = found[0]
            if not revision.by_atelier:
                raise JobRefused(f"Revision {revision.name[:12]} of {row.name} was not downloaded by "
                                 "Atelier, so Atelier does not delete it (`hf cache delete` does)")
            return row, revision
        ours = [revision for revision in row.revisions if revision.by_atelier]
        if not ours:
            raise JobRefused(f"Atelier downloaded no revision of {row.name}, and it deletes only what "
                             "it downloaded (`hf cache delete` does the rest)")
        if len(ours) > 1:
            which = ", ".join(revision.name[:12] for revision in ours)
            raise JobRefused(f"Atelier downloaded {len(ours)} revisions of {row.name} ({which}): name one")
        return row, ours[0]

    def ask_first(self, context: bpy.types.Context, event: bpy.types.Event) -> set[str]:
        row, revision = self._revision(context)
        return context.window_manager.invoke_confirm(
            self, event, title="Delete Model", confirm_text="Delete", icon="WARNING",
            message=f"Delete revision {revision.name[:12]} of {row.name} "
                    f"({size_text(revision.size_gb * 1e9)}) from the Hugging Face cache?")

    def make_request(self, context: bpy.types.Context, request_id: str) -> protocol.Request:
        row, revision = self._revision(context)
        return protocol.DeleteModelRequest(id=request_id, model=row.name, revision=revision.name)

    def report_text(self, result: ModelsResult) -> str:
        done: DeleteModelResult = self._first_result
        return f"Deleted revision {done.revision[:12]} of {done.model}: {size_text(done.freed_bytes)} freed"


classes = (ATELIER_OT_models_refresh, ATELIER_OT_model_download, ATELIER_OT_model_delete)
register, unregister = bpy.utils.register_classes_factory(classes)
