"""``atelier.batch_textures``: one texture per selected object, or per row of a CSV file, queued
at once and applied as each item ends.

Prompts come from each object's name, a custom property, or one fixed prompt (a CSV row's own
prompt wins); size, steps, guidance, seamless and the negative prompt are the Texture panel's.
Items that cannot run (a missing object, a bad seed, no prompt) are reported with their line and
the rest run; a failed job does not stop the others. In the UI a modal timer drives the batch
(``tick``), the Batch panel shows every item, and Esc or Cancel cancels them all; under
``blender -b`` it blocks, prints a line as each item ends, applies what succeeded, and ends with
an error naming the failed items (CANCELLED). In the UI it ends FINISHED, with a warning naming
the failed items, so that what it applied is one undo step: everything the batch applied, from
its first item to its last. Undo (Ctrl-Z) is held back while the batch runs, since stepping back
then would mix the batch's changes with earlier ones. The JSON report (``report_path``, a file
there is replaced) is written for every batch that checked its arguments, refused or cancelled
ones too. The plain work lives in ``batch_run.py``.
"""

from __future__ import annotations

import bpy

from .. import preferences
from ..client import session
from ..client.session import JobRefused
from ..core import batch as rules
from ..properties.fields import BLEND_RELATIVE, seed_field
from ..properties.maps import MAP_ITEMS
from ..properties.style import style_field
from . import batch_run
from .backend_operator import (
    TIMER_INTERVAL,
    BackendJobOperator,
    redraw_sidebars,
    report_error,
    session_state,
    stop_modal,
)

SOURCES = [("SELECTED", "Selected Objects", "One texture per selected mesh object"),
           ("CSV", "CSV File", "One texture per row of a CSV file (object, prompt, seed, maps)")]
PROMPT_SOURCES = [
    ("NAME", "Object Name", "The object's name is the prompt ('Old_Brick.001' -> 'Old Brick')"),
    ("PROPERTY", "Custom Property", "A custom property of each object holds its prompt"),
    ("FIXED", "Fixed Prompt", "Every object gets the same prompt"),
]
# '//' paths ('relative to the .blend') are this operator's to resolve (Blender 4.5+ says so).
NAMED_FAILURES = 5  # failed items named in the report line; the JSON report lists every one


class ATELIER_OT_batch_textures(bpy.types.Operator):
    """Generate a texture for each selected object (or each row of a CSV file), all queued at once"""

    bl_idname = "atelier.batch_textures"
    bl_label = "Batch Textures"
    bl_options = {"UNDO"}  # everything the batch applied is one undo step (pushed when it ends)

    source: bpy.props.EnumProperty(name="Source", description="Which objects to texture",
                                   items=SOURCES, default="SELECTED")
    filepath: bpy.props.StringProperty(name="CSV File", subtype="FILE_PATH", options=BLEND_RELATIVE,
                                       description="CSV with a header: object, prompt, seed, maps")
    prompt_from: bpy.props.EnumProperty(name="Prompt From", description="Where each object's prompt "
                                        "comes from (a CSV row's prompt wins)", items=PROMPT_SOURCES,
                                        default="NAME")
    prompt: bpy.props.StringProperty(name="Prompt", description="The prompt for 'Fixed Prompt'")
    property_name: bpy.props.StringProperty(
        name="Property", description="The custom property holding each object's prompt",
        default="atelier_prompt")
    variations: bpy.props.IntProperty(
        name="Variations", description="Textures per object ('<material> v1' .. 'vN'; the first is "
                                       "applied, the others kept in the history)",
        default=1, soft_min=1, soft_max=batch_run.MAX_VARIATIONS)
    seed: seed_field(hard=False)
    maps: bpy.props.EnumProperty(name="Maps", description="PBR maps for every texture (a CSV row's "
                                 "maps win); the 'Maps Model' preference makes them",
                                 items=MAP_ITEMS, options={"ENUM_FLAG"}, default=set())
    style: style_field()
    report_path: bpy.props.StringProperty(
        name="Report", subtype="FILE_PATH", options=BLEND_RELATIVE,
        description="Write a JSON report of the batch here, replacing a file there (empty = none)")

    _run: batch_run.BatchRun | None = None
    _timer = None
    _report_file = ""  # the report path, absolute and checked when the batch starts

    # ----------------------------------------------------------- Blender's entry points

    def execute(self, context: bpy.types.Context) -> set[str]:
        """Blocking: queue every job, wait for them all, apply each item as it ends."""
        run = self._start(context)
        if run is None:
            return {"CANCELLED"}
        try:
            run.wait(context, on_progress=BackendJobOperator._print_progress,
                     on_item=_print_item if in_background() else None)
        finally:
            session_state(context).running = False
        return self.finish(context)

    def invoke(self, context: bpy.types.Context, event: bpy.types.Event) -> set[str]:
        """Asynchronous in the UI; blocking when there is no window."""
        if bpy.app.background or context.window is None:
            return self.execute(context)
        if self._start(context) is None:
            return {"CANCELLED"}
        wm = context.window_manager
        self._timer = wm.event_timer_add(TIMER_INTERVAL, window=context.window)
        wm.modal_handler_add(self)
        return {"RUNNING_MODAL"}

    def modal(self, context: bpy.types.Context, event: bpy.types.Event) -> set[str]:
        if event.type == "ESC" and event.value == "PRESS":
            self.cancel_all(context)
            outcome = self.tick(context)
            return {"RUNNING_MODAL"} if outcome == {"PASS_THROUGH"} else outcome
        if event.type == "Z" and (event.ctrl or event.oskey):
            if event.value == "PRESS":
                self.report({"WARNING"}, "Undo waits until the batch ends (Esc cancels it)")
            return {"RUNNING_MODAL"}  # swallowed: the batch's undo step is pushed when it ends
        if event.type != "TIMER":
            return {"PASS_THROUGH"}
        return self.tick(context)

    def cancel(self, context: bpy.types.Context) -> None:
        """Blender ends the operator (window closed, file loaded): end every job, apply nothing
        more, and write the report of what was done."""
        if self._run is not None:
            self._run.abandon()
            try:
                self._write_report(self._run.report())
            except rules.BatchError as exc:
                self.report({"ERROR"}, str(exc))
        self._stop_modal(context)

    # ----------------------------------------------------------- the UI's steps (tests call them)

    def tick(self, context: bpy.types.Context) -> set[str]:
        """One timer tick: move events along, apply finished items, show progress."""
        run = self._run
        run.advance(context)
        self._show_progress(context)
        if not run.finished:
            return {"PASS_THROUGH"}
        self._stop_modal(context)
        return self.finish(context)

    def cancel_all(self, context: bpy.types.Context) -> None:
        """Esc: cancel every job; a second Esc stops waiting for a backend that does not confirm."""
        if self._run.cancelling:
            self._run.abandon()
        else:
            self._run.cancel_all()

    def finish(self, context: bpy.types.Context) -> set[str]:
        """The summary report, the JSON report, and the result. When any item failed: a
        message naming them, as an error with CANCELLED under ``bpy.app.background`` (the
        script learns it), else as a warning with FINISHED, so that what the batch applied is
        one undo step whatever became of the rest."""
        run = self._run
        _show_items(context, run)
        message = _summary(run)
        problems = [str(_failure(item)) for item in run.failed()]
        try:
            path = self._write_report(run.report())
            message += f"; report {path}" if path else ""
        except rules.BatchError as exc:
            problems.append(str(exc))
        if problems:
            shown = "; ".join(problems[:NAMED_FAILURES])
            more = f"; and {len(problems) - NAMED_FAILURES} more" if len(problems) > NAMED_FAILURES else ""
            message = f"{message} — not made: {shown}{more}"
            if in_background():
                self._report_error(context, message)
                return {"CANCELLED"}
            state = session_state(context)
            state.last_error, state.last_error_operator = message, self.bl_idname
            self.report({"WARNING"}, message)
            return {"FINISHED"}
        if run.cancelling or any(item.status == "cancelled" for item in run.outcomes):
            self.report({"WARNING"}, message)  # Esc, Cancel, or a cancel from elsewhere
            return {"CANCELLED"} if in_background() else {"FINISHED"}
        state = session_state(context)
        if state.last_error_operator == self.bl_idname:
            state.last_error = ""
        self.report({"INFO"}, message)
        return {"FINISHED"}

    # ----------------------------------------------------------- steps

    def _start(self, context: bpy.types.Context) -> batch_run.BatchRun | None:
        self._report_file = ""
        run = None
        try:
            if self.report_path.strip():  # first: a refused batch writes its report there too
                self._report_file = batch_run.absolute_path(self.report_path, "report path")
                problem = rules.report_path_problem(self._report_file)
                if problem:
                    self._report_file = ""
                    raise JobRefused(problem)
            problem = preferences.backend_problem()
            if problem:
                raise JobRefused(problem)
            model = preferences.resolved_model("texture")
            if not model or model == preferences.BUILTIN:
                raise JobRefused("the batch queue runs on the backend; set a texture model in Atelier's "
                                 "preferences or ATELIER_TEXTURE_MODEL (the built-in engine makes one "
                                 "material at a time with Generate Texture)")
            csv_file = batch_run.absolute_path(self.filepath, "CSV file") if self.source == "CSV" else ""
            entries = batch_run.plan(context, self, model)
            run = batch_run.BatchRun(
                entries, model=model, source=self.source, csv_file=csv_file,
                maps_model=preferences.resolved_maps_model() if any(
                    entry.maps for entry in entries if isinstance(entry, batch_run.ItemSpec)) else "")
            if not run.items:
                raise JobRefused("nothing to texture: " + "; ".join(map(str, entries[:NAMED_FAILURES])))
            run.submit_all(session.client_for(preferences.backend_config(session.EXTENSION_DIR)))
        except JobRefused as exc:
            self._refused(context, str(exc), run)
            return None
        self._run = run
        state = session_state(context)
        state.running = True
        state.job_operator = self.bl_idname
        state.progress = 0.0
        self._show_progress(context)
        return run

    def _refused(self, context: bpy.types.Context, reason: str, run: batch_run.BatchRun | None) -> None:
        """Report why the batch cannot start, in the JSON report too (its items, if planned)."""
        if self._report_file:
            if run is None:
                run = batch_run.BatchRun([], model="", maps_model="", source=self.source,
                                         csv_file=self.filepath.strip() if self.source == "CSV" else "")
            run.abandon()  # its planned items never ran
            try:
                self._write_report(run.report(error=reason))
            except rules.BatchError as exc:
                reason += f"; {exc}"
        self._report_error(context, reason)

    def _write_report(self, document: dict) -> str:
        """Write ``document`` to the report path checked at the start ('' when there is none)."""
        return str(rules.write_report(self._report_file, document)) if self._report_file else ""

    def _show_progress(self, context: bpy.types.Context) -> None:
        run = self._run
        state = session_state(context)
        state.progress = run.fraction()
        ended = sum(1 for item in run.items if item.applied)
        state.job_label = f"batch: {ended} of {len(run.items)} items"
        state.stage = "cancelling" if run.cancelling else "running"
        _show_items(context, run)
        if context.workspace is not None:
            context.workspace.status_text_set(f"Atelier: {state.job_label}   (Esc to cancel all)")
        redraw_sidebars(context)

    def _stop_modal(self, context: bpy.types.Context) -> None:
        stop_modal(self, context)

    def _report_error(self, context: bpy.types.Context, message: str) -> None:
        report_error(self, context, message)


def _show_items(context: bpy.types.Context, run: batch_run.BatchRun) -> None:
    """Every item's status and progress for the Batch panel (``WindowManager.atelier.batch_items``);
    only rows that changed are written (a batch may have thousands)."""
    rows = session_state(context).batch_items
    if len(rows) != len(run.entries):
        rows.clear()
        for _ in run.entries:
            rows.add()
    for row, entry in zip(rows, run.entries, strict=True):
        outcome = entry.outcome if isinstance(entry, batch_run.Item) else entry
        values = {"name": outcome.label(), "status": outcome.status.upper(), "message": outcome.error,
                  "progress": run.item_fraction(entry) if isinstance(entry, batch_run.Item) else 0.0}
        for name, value in values.items():
            if getattr(row, name) != value:
                setattr(row, name, value)


def in_background() -> bool:
    """``blender -b`` or the bpy module: a script waits for the batch and must learn of failures."""
    return bpy.app.background


def _print_item(item: batch_run.Item) -> None:
    """Background mode: one line as each item ends, for the log of a render farm or a script."""
    outcome = item.outcome
    print(f"Atelier batch: {outcome.label()}: {outcome.status}"
          + (f" — {outcome.error}" if outcome.error else ""), flush=True)


def _summary(run: batch_run.BatchRun) -> str:
    counts = rules.summary(run.outcomes)
    text = f"Batch: {counts['done']} of {counts['items']} item(s) done"
    for status in ("partial", "failed", "skipped", "cancelled"):
        if counts[status]:
            text += f", {counts[status]} {status}"
    return text


def _failure(item: rules.ItemOutcome) -> str:
    return f"{item.label()}: {item.error}" if item.error else item.label()


classes = (ATELIER_OT_batch_textures,)
register, unregister = bpy.utils.register_classes_factory(classes)
