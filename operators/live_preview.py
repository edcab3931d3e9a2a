"""``atelier.live_preview``: quick previews of the Texture panel's settings, as the artist types.

While on, each change of the panel's prompt, seed, style or steps (their ``update`` callbacks,
``properties/texture.py``) sends a preview job: ``PREVIEW_SIZE`` px, one step, the tiny
autoencoder, the panel's seed, and ``"preview": true`` so the backend runs only the newest one.
A timer (``tick``) drains the backend's events without blocking and puts at most one image per
tick into the one preview Image (``apply/live_preview.py``); older results are dropped unapplied.
Each preview goes to the backend the preferences name at that moment (the one client operators
use), so a settings change never leaves a second backend running. A non-preview job (Generate)
cancels the running preview; the newest one is then sent once more.
Generate then makes the full texture with the same seed: a seed of -1 becomes a concrete one,
written into the panel, when the preview starts.

The operator is a thin shell: ``start``, ``stop``, ``settings_changed`` and ``tick`` are plain
functions (the timer never fires under the bpy module; tests call them directly).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import bpy

from .. import preferences
from ..apply import live_preview as display
from ..apply.raw_pixels import read_pixels
from ..apply.texture import check_can_take_material, pick_targets
from ..client import session
from ..client.session import ApplyError, JobRefused
from ..core import limits, protocol
from ..core.families import SIZE_MULTIPLE
from ..core.results import PreviewResult
from . import app_handlers
from .style_args import styled_args

PREVIEW_SIZE = 256  # pixels on the longer side: quick, and enough to judge a texture
PREVIEW_STEPS = 1
TICK_INTERVAL = 0.05  # seconds between drains: a queue read, so cheap; smooth enough to watch
OPERATOR = "atelier.live_preview"
BACKGROUND_REFUSAL = "live preview needs Blender's interface; under blender -b use generate_texture"


@dataclass
class _Session:
    """The preview's state for this Blender session (never saved)."""

    on: bool = False
    jobs: dict = field(default_factory=dict)  # id -> session.Job, in the order they were sent
    order: dict = field(default_factory=dict)  # id -> when it was sent (a counter)
    sent: int = 0
    shown: int = -1  # the counter of the newest result shown
    newest: str = ""  # the id of the newest preview sent
    resent: bool = False  # the newest was sent again after a non-preview job cut it short


_live = _Session()


def is_on() -> bool:
    """Whether the live preview is on (the panel's toggle shows it pressed)."""
    return _live.on


# ---------------------------------------------------------------------- start and stop


def start(context: bpy.types.Context) -> str:
    """Turn the preview on for the selected object and send the first preview; returns the report.

    Raises ``JobRefused`` or ``ApplyError`` (the message says the fix) with nothing changed."""
    if _live.on:
        return "Live preview is already on"
    targets = pick_targets(context)
    if not targets:
        raise JobRefused("select a mesh object to show the preview on")
    active = context.active_object
    target = active if active in targets else targets[0]
    check_can_take_material([target], object_level=True)  # the preview goes in as the object's own
    model = preferences.resolved_model("texture")
    if not model or model == preferences.BUILTIN:
        raise JobRefused("live preview needs a texture model in the backend; set one in Atelier's "
                         "preferences or ATELIER_TEXTURE_MODEL (the built-in engine has no preview)")
    problem = preferences.backend_problem()
    if problem:
        raise JobRefused(problem)
    settings = context.scene.atelier.texture
    styled_args(_PanelArgs(settings))  # a style that cannot be used is refused before anything changes
    display.attach(target)  # raises ApplyError before the seed below is written
    seed = settings.seed
    if seed < 0:  # before ``on``: writing it must not send a preview of its own
        settings.seed = protocol.random_seed()
    _live.on = True
    if not bpy.app.timers.is_registered(tick):
        bpy.app.timers.register(tick, first_interval=TICK_INTERVAL)
    try:
        send_preview(context)
    except JobRefused:
        stop()
        settings.seed = seed
        raise
    return f"Live preview on {target.name!r} (seed {settings.seed})"


def stop() -> None:
    """Turn the preview off: pending previews cancelled, the object as it was, nothing left."""
    global _live
    if bpy.app.timers.is_registered(tick):
        bpy.app.timers.unregister(tick)
    for job in _live.jobs.values():
        session.abandon(job, "live preview stopped")
        session.release(job.id)  # one another drain finished keeps its folder until released
    _live = _Session()
    display.detach()


# A file load turns the preview off once the file is loaded, as it ends the jobs running
# (``backend_control``); one that cannot be read leaves the preview on, as it leaves the jobs.
# Its datablocks come off before the load, while the file they are in is still open: after it,
# the names the preview remembers would find the loaded file's own datablocks and objects (the
# same file reopened holds the same object names), which the preview must never touch.


@bpy.app.handlers.persistent
def take_off_before_load(*_args) -> None:
    """``load_pre``: the preview's material and Image off the file being closed (the pixels and
    the object stay noted, for a load that fails)."""
    if _live.on:
        display.hide_for_save()


@bpy.app.handlers.persistent
def stop_on_load(*_args) -> None:
    """``load_post``: the preview belonged to the file closed: its jobs end, nothing of it stays
    (Blender has removed its timer). Before ``drop_stale_preview``, which would otherwise put it
    on the loaded file's object of the same name."""
    if _live.on:
        stop()


@bpy.app.handlers.persistent
def show_after_failed_load(*_args) -> None:
    """``load_post_fail``: the open file stays, and the preview back on it (its timer was kept)."""
    if _live.on:
        display.show_after_save()


# ---------------------------------------------------------------------- sending


def settings_changed(settings, context: bpy.types.Context) -> None:
    """The ``update`` callback of the Texture panel's prompt, seed, style and steps."""
    if not _live.on or context.scene is None or settings != context.scene.atelier.texture:
        return
    if settings.seed < 0:  # the same seed for the preview and for Generate: a concrete one
        settings.seed = protocol.random_seed()  # its own update sends the preview
        return
    try:
        send_preview(context)
    except JobRefused as exc:
        _report_error(context, str(exc))


def send_preview(context: bpy.types.Context, again: bool = False) -> session.Job | None:
    """Send a preview of the panel's settings; None when the prompt is empty (nothing to show).
    ``again``: the newest one once more, after a non-preview job cut it short.
    Raises ``JobRefused`` for a style or prompt that cannot be sent."""
    settings = context.scene.atelier.texture
    if not settings.prompt.strip():
        return None
    request = preview_request(settings, PREVIEW_SIZE)  # read now: the benchmark sets another size
    client = session.client_for(preferences.backend_config(session.EXTENSION_DIR))
    job = session.submit(client, request, label="live preview")
    _live.jobs[job.id] = job
    _live.order[job.id] = _live.sent
    _live.sent += 1
    _live.newest, _live.resent = job.id, again
    return job


class _PanelArgs:
    """The panel's settings as ``styled_args`` reads an operator's: a setting the artist has not
    touched is 'not passed', so the style's default applies, as it does for Generate."""

    def __init__(self, settings):
        self.properties = settings

    def __getattr__(self, name):
        return getattr(self.properties, name)


def preview_request(settings, size: int = PREVIEW_SIZE) -> protocol.TextureRequest:
    """The preview request for the Texture panel's ``settings``: the prompts, style, seed and
    model Generate would use, at ``size`` px on the longer side, one step, the tiny autoencoder."""
    styled = styled_args(_PanelArgs(settings))
    width, height = preview_size(settings.width, settings.height, size)
    return protocol.TextureRequest(
        id=session.new_request_id(), prompt=styled.prompt, negative_prompt=styled.negative_prompt,
        width=width, height=height, steps=PREVIEW_STEPS, guidance=styled.value("guidance") or None,
        seed=settings.seed, seamless=styled.value("seamless").lower(), style=styled.style,
        model=preferences.resolved_model("texture"), device=preferences.resolved_device(),
        allow_network=preferences.allow_network(), output_dir=preferences.user_folder("jobs"),
        preview=True, tiny_autoencoder=True)


def preview_size(width: int, height: int, size: int) -> tuple[int, int]:
    """The texture's shape with its longer side ``size``, both sides multiples every model takes."""
    scale = size / max(width, height, 1)

    def side(value: int) -> int:
        return max(limits.MIN_SIZE, round(value * scale / SIZE_MULTIPLE) * SIZE_MULTIPLE)

    return side(width), side(height)


# ---------------------------------------------------------------------- receiving


def tick() -> float | None:
    """The timer: drain without blocking, show the newest finished preview; None ends the timer."""
    if not _live.on:
        return None
    client = session.current_client()  # the one previews go to now (``send_preview``)
    if client is not None:
        session.drain(client, timeout=0.0)
    # Done now or in another drain meanwhile (a running operator's timer, Generate's wait).
    finished = [job for job in _live.jobs.values() if job.done]
    results, cut_short = [], False
    for job in finished:
        _live.jobs.pop(job.id)
        if job.result is not None:
            results.append((_live.order.pop(job.id), job.result))
            continue
        _live.order.pop(job.id, None)
        if job.id != _live.newest:
            continue  # superseded: what it would have shown is out of date anyway
        if job.cancelled:  # by a non-preview job (Generate): once more, not in a loop
            cut_short = not _live.resent
        else:
            _report_error(bpy.context, session.format_error(job.error.message, job.error.hint))
    if results:
        show_newest(results)
    if cut_short:
        try:
            send_preview(bpy.context, again=True)
        except JobRefused as exc:
            _report_error(bpy.context, str(exc))
    return TICK_INTERVAL


def show_newest(results: list[tuple[int, PreviewResult]]) -> PreviewResult | None:
    """Show the newest of ``(sent, result)`` pairs (``sent``: when its request went out) unless a
    newer one is shown already; every result's folder is released, shown or not. Returns the
    result shown."""
    newest = max(results, key=lambda pair: pair[0])
    try:
        if newest[0] <= _live.shown or not isinstance(newest[1], PreviewResult):
            return None
        result = newest[1]
        try:
            display.show(read_pixels(result.pixels, result.width, result.height),
                         result.width, result.height)
        except (ApplyError, OSError, ValueError) as exc:  # nothing may escape the timer tick
            _report_error(bpy.context, f"the preview cannot be shown: {exc}")
            return None
        _live.shown = newest[0]
        _redraw_viewports()
        return result
    finally:
        for _sent, result in results:
            session.release(result.id)


def _redraw_viewports() -> None:
    """A timer draws nothing by itself: the 3D views show the new image at their next redraw."""
    for window in bpy.context.window_manager.windows:
        for area in window.screen.areas:
            if area.type == "VIEW_3D":
                area.tag_redraw()


def _report_error(context: bpy.types.Context, message: str) -> None:
    """Shown where the panel shows a job's error (no operator is running to report it)."""
    state = context.window_manager.atelier
    state.last_error, state.last_error_operator = f"Live preview: {message}", OPERATOR


# ---------------------------------------------------------------------- the operator


class ATELIER_OT_live_preview(bpy.types.Operator):
    """Preview the texture on the selected object as the prompt, seed, style or steps change
    (a quick, small image; Generate makes the full texture with the same seed)"""

    bl_idname = OPERATOR
    bl_label = "Live Preview"
    # No UNDO: the preview is session-only and must never become an undo step.

    enable: bpy.props.BoolProperty(name="Enable", description="Turn the preview on (off: remove it)",
                                   default=True)

    def execute(self, context: bpy.types.Context) -> set[str]:
        if not self.enable:
            stop()
            self.report({"INFO"}, "Live preview off")
            return {"FINISHED"}
        if bpy.app.background:
            self.report({"ERROR"}, BACKGROUND_REFUSAL)
            return {"CANCELLED"}
        try:
            message = start(context)
        except (JobRefused, ApplyError) as exc:
            self.report({"ERROR"}, str(exc))
            return {"CANCELLED"}
        self.report({"INFO"}, message)
        return {"FINISHED"}


classes = (ATELIER_OT_live_preview,)
_register_classes, _unregister_classes = bpy.utils.register_classes_factory(classes)
# Appended in this order, so ``stop_on_load`` runs before ``drop_stale_preview`` at ``load_post``.
# ``load_post_fail`` may be missing (4.2): a failed load then leaves the preview off its object
# until the next image.
_HANDLERS = (("load_pre", take_off_before_load), ("load_post", stop_on_load),
             ("load_post_fail", show_after_failed_load), ("save_pre", display.hide_for_save),
             ("save_post", display.show_after_save), ("undo_post", display.drop_stale_preview),
             ("redo_post", display.drop_stale_preview), ("load_post", display.drop_stale_preview))


def register() -> None:
    _register_classes()
    app_handlers.add(_HANDLERS)


def unregister() -> None:
    stop()  # the timer too: bpy 4.5 hangs at exit while one is registered
    app_handlers.remove(_HANDLERS)
    _unregister_classes()

