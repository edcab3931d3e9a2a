"""A batch of texture jobs as plain functions and one plain class: what the batch operator plans,
queues, drains and applies. The operator (``batch.py``) is a thin shell: in the UI a modal timer
calls ``BatchRun.advance``; with ``bpy.app.background`` ``BatchRun.wait`` blocks.

Jobs go through ``client.session`` a few at a time (``in_flight_limit``: enough to keep a local
backend or every replica of a remote one busy, never thousands of folders and threads at once);
each job that ends makes room for the next. An item is applied as soon as all its variations
have ended; a failed job, or one that cannot be applied, is reported and the others go on. Jobs
that a backend crash ended before they began are sent once more.
"""

from __future__ import annotations

import datetime
from dataclasses import dataclass, field

import bpy

from .. import preferences
from ..apply import batch_variations, material_maps
from ..apply import texture as apply_texture
from ..client import session
from ..client.remote_config import RemoteConfig
from ..client.session import ApplyError, JobRefused
from ..core import batch as rules
from ..core import limits, protocol
from ..core.results import MapsResult, TextureResult
from ..properties.maps import map_roles
from . import maps
from .style_args import styled_args
from .texture import check_size, texture_parameters, texture_request

MAX_VARIATIONS = 16
LOCAL_IN_FLIGHT = 2  # the local backend runs one job at a time; the next waits ready behind it
REMOTE_IN_FLIGHT = 32  # the client does not know a server's replicas: room for 16 of them, twice over


@dataclass(frozen=True)
class Planned:
    """One variation as planned: the request to send and what its history entry records."""

    name: str
    request: protocol.TextureRequest
    parameters: apply_texture.TextureParameters


@dataclass(frozen=True)
class ItemSpec:
    """One object to texture: its prompt (the artist's words), seed (resolved), maps and the
    request of every variation."""

    object: str
    prompt: str
    seed: int
    maps: tuple[str, ...]
    line: int = 0
    variations: tuple[Planned, ...] = ()


# ---------------------------------------------------------------------- planning


def plan(context: bpy.types.Context, operator, model: str) -> list[ItemSpec | rules.Problem]:
    """The items ``operator`` asks for, in order, with a ``Problem`` in place of each object or
    CSV row that cannot run; ``JobRefused`` when the batch cannot start at all."""
    if not 1 <= operator.variations <= MAX_VARIATIONS:
        raise JobRefused(f"variations {operator.variations} is out of range; use 1 to {MAX_VARIATIONS}")
    if not -1 <= operator.seed <= protocol.SEED_MAX:
        raise JobRefused(f"seed {operator.seed} is out of range; use -1 for random seeds "
                         f"or 0..{protocol.SEED_MAX}")
    if operator.prompt_from == "FIXED" and not operator.prompt.strip():
        raise JobRefused("prompt_from is 'FIXED' but the prompt is empty; write the prompt every object "
                         "gets, or use prompt_from='NAME'")
    if operator.prompt_from == "PROPERTY" and not operator.property_name.strip():
        raise JobRefused("prompt_from is 'PROPERTY' but property_name is empty; name the custom "
                         "property that holds each object's prompt")
    settings = context.scene.atelier.texture
    check_size(settings.width, settings.height)  # the Texture panel's size, as Generate Texture checks it
    default_maps = map_roles(operator.maps)
    if operator.source == "CSV":
        entries = _from_csv(operator, default_maps)
    else:
        objects = [obj for obj in context.selected_objects or [] if apply_texture.can_hold_material(obj)]
        if not objects:
            raise JobRefused("no mesh object is selected; select the objects to texture (one texture "
                             "each), or use source='CSV'")
        entries = [_checked(obj, obj.name, 0) or _spec(operator, obj, obj.name, "", None, default_maps, 0)
                   for obj in objects]
    jobs = sum(1 for entry in entries if isinstance(entry, ItemSpec)) * operator.variations
    if jobs > rules.MAX_JOBS:
        raise JobRefused(f"the batch asks for {jobs} textures, more than one batch makes "
                         f"({rules.MAX_JOBS}); split it or use fewer variations")
    return [entry if isinstance(entry, rules.Problem) else _planned(context, operator, entry, model)
            for entry in entries]


def absolute_path(text: str, what: str) -> str:
    """``text`` (a path an artist typed, '//' for the .blend's folder) as an absolute path;
    ``JobRefused`` for a '//' path while the .blend has never been saved (it has no folder)."""
    text = text.strip()
    if text.startswith("//") and not bpy.data.filepath:
        raise JobRefused(f"the {what} {text!r} is relative to the .blend file, which is not saved yet; "
                         "save the .blend or give an absolute path")
    return bpy.path.abspath(text)


def _from_csv(operator, default_maps: tuple[str, ...]) -> list[ItemSpec | rules.Problem]:
    if not operator.filepath.strip():
        raise JobRefused("source is 'CSV' but no filepath is set; choose the CSV file of the batch")
    try:
        rows, problems = rules.read_csv(absolute_path(operator.filepath, "CSV file"))
    except rules.BatchError as exc:
        raise JobRefused(str(exc)) from None
    entries: list[ItemSpec | rules.Problem] = list(problems)
    for row in rows:
        obj = bpy.data.objects.get(row.object)
        if obj is None:
            entries.append(rules.Problem(row.object, f"there is no object named {row.object!r}; check "
                                                     "the name in the 'object' column", row.line))
        elif not apply_texture.can_hold_material(obj):
            entries.append(rules.Problem(row.object, f"{row.object!r} is a {obj.type.lower()} and cannot "
                                                     "hold a material; name a mesh object", row.line))
        else:
            entries.append(_checked(obj, row.object, row.line) or _spec(
                operator, obj, row.object, row.prompt, row.seed,
                default_maps if row.maps is None else row.maps, row.line))
    if not rows and not problems:
        raise JobRefused("the CSV file has a header but no rows; add one row per object to texture")
    return sorted(entries, key=lambda entry: entry.line)


def _checked(obj: bpy.types.Object, name: str, line: int) -> rules.Problem | None:
    """A problem when ``obj`` cannot take a material here (linked from a library)."""
    linked = apply_texture.linked_problem(apply_texture.with_meshes([obj]))
    return rules.Problem(name, linked, line) if linked else None


def _spec(operator, obj: bpy.types.Object, name: str, prompt: str, seed: int | None,
          roles: tuple[str, ...], line: int) -> ItemSpec | rules.Problem:
    prompt = prompt or _prompt_for(operator, obj)
    if not prompt:
        where = (f"has no text in its custom property {operator.property_name.strip()!r}; add it, or use "
                 "prompt_from='NAME'") if operator.prompt_from == "PROPERTY" else "gives no prompt"
        return rules.Problem(name, where, line)
    too_long = limits.prompt_length_problem(prompt)
    if too_long:
        return rules.Problem(name, too_long, line)
    seed = operator.seed if seed is None else seed
    return ItemSpec(object=name, prompt=prompt, seed=seed if seed >= 0 else protocol.random_seed(),
                    maps=roles, line=line)


def _prompt_for(operator, obj: bpy.types.Object) -> str:
    """The prompt ``operator.prompt_from`` gives ``obj`` ('' when it gives none)."""
    if operator.prompt_from == "FIXED":
        return " ".join(operator.prompt.split())
    if operator.prompt_from == "NAME":
        return rules.prompt_from_name(obj.name)
    value = obj.get(operator.property_name.strip())
    return " ".join(value.split()) if isinstance(value, str) else ""


def _planned(context, operator, spec: ItemSpec, model: str) -> ItemSpec | rules.Problem:
    """``spec`` with the request of each variation; a ``Problem`` for its row when the style
    cannot expand its prompt (too long with the style's words, a style that is not there)."""
    planned = []
    try:
        for index in range(operator.variations):
            seed = rules.variation_seed(spec.seed, index)
            request, parameters = variation_request(context.scene.atelier.texture, spec, seed,
                                                    operator.style, model)
            planned.append(Planned(batch_variations.variation_label(spec.prompt, index + 1,
                                                                    operator.variations),
                                   request, parameters))
    except JobRefused as exc:
        return rules.Problem(spec.object, str(exc), spec.line)
    return ItemSpec(spec.object, spec.prompt, spec.seed, spec.maps, spec.line, tuple(planned))


# ---------------------------------------------------------------------- requests


class _Styling:
    """The Texture panel's settings with an item's prompt and the batch's style, read the way
    ``styled_args`` reads an operator (what the panel left unset, the style supplies)."""

    def __init__(self, settings, prompt: str, style: str) -> None:
        self.properties = settings
        self.prompt = prompt
        self.style = style

    def __getattr__(self, name: str):
        return getattr(self.properties, name)


def variation_request(settings, spec: ItemSpec, seed: int, style: str,
                      model: str) -> tuple[protocol.TextureRequest, apply_texture.TextureParameters]:
    """The request for one variation and what its history entry records; ``JobRefused`` for an
    unknown style or an expanded prompt over the limit."""
    styled = styled_args(_Styling(settings, spec.prompt, style))
    parameters = texture_parameters(styled, prompt=spec.prompt, negative_prompt=settings.negative_prompt,
                                    width=settings.width, height=settings.height, seed=seed, model=model)
    return texture_request(session.new_request_id(), styled, parameters), parameters


def in_flight_limit(client) -> int:
    """How many jobs a batch keeps sent at once to ``client``'s backend."""
    return REMOTE_IN_FLIGHT if isinstance(getattr(client, "config", None), RemoteConfig) else LOCAL_IN_FLIGHT


# ---------------------------------------------------------------------- running


@dataclass
class Variation:
    """One job of an item (a texture, then its maps from a backend model) and what came back."""

    outcome: rules.VariationOutcome
    request: protocol.TextureRequest
    parameters: apply_texture.TextureParameters
    job: session.Job | None = None  # None: not sent yet, or its results are in hand (``ready``)
    texture: TextureResult | None = None  # kept while its maps job runs, and until applied
    maps: MapsResult | None = None
    ready: bool = False  # every job ended well: applied with its item
    resent: bool = False  # sent again after a backend crash ended it before it began

    @property
    def waiting(self) -> bool:
        return self.outcome.status in ("queued", "running")

    @property
    def in_flight(self) -> bool:
        return self.job is not None and not self.job.done


@dataclass
class Item:
    spec: ItemSpec
    outcome: rules.ItemOutcome
    applier: batch_variations.Variations
    variations: list[Variation] = field(default_factory=list)
    applied: bool = False


class BatchRun:
    """Every job of one batch: send them a few at a time, move their events along, apply what
    is ready."""

    def __init__(self, entries: list[ItemSpec | rules.Problem], *, model: str, maps_model: str,
                 source: str, csv_file: str) -> None:
        self.model, self.maps_model, self.source, self.csv_file = model, maps_model, source, csv_file
        self.started = _now()
        self.finished_at = ""
        self.client = None
        self.limit = LOCAL_IN_FLIGHT
        self.cancelling = False
        self.entries: list[Item | rules.ItemOutcome] = []
        for entry in entries:
            if isinstance(entry, rules.Problem):
                self.entries.append(rules.skipped(entry))
                continue
            item = Item(entry, rules.ItemOutcome(object=entry.object, prompt=entry.prompt,
                                                 maps=entry.maps, line=entry.line),
                        batch_variations.Variations(len(entry.variations), [entry.object],
                                                    preferences.image_storage()))
            for planned in entry.variations:
                outcome = rules.VariationOutcome(name=planned.name, seed=planned.parameters.seed)
                item.outcome.variations.append(outcome)
                item.variations.append(Variation(outcome, planned.request, planned.parameters))
            self.entries.append(item)

    # ------------------------------------------------------------------ views

    @property
    def items(self) -> list[Item]:
        return [entry for entry in self.entries if isinstance(entry, Item)]

    @property
    def outcomes(self) -> list[rules.ItemOutcome]:
        return [entry.outcome if isinstance(entry, Item) else entry for entry in self.entries]

    @property
    def finished(self) -> bool:
        return all(item.applied for item in self.items)

    def variations(self) -> list[Variation]:
        return [variation for item in self.items for variation in item.variations]

    def fraction(self) -> float:
        """How much of the whole batch is done (each job counts by its steps)."""
        parts = [_variation_fraction(v) for v in self.variations()]
        return sum(parts) / len(parts) if parts else 1.0

    def item_fraction(self, item: Item) -> float:
        return sum(_variation_fraction(v) for v in item.variations) / len(item.variations)

    def failed(self) -> list[rules.ItemOutcome]:
        return [o for o in self.outcomes if o.status in ("failed", "partial", "skipped")]

    # ------------------------------------------------------------------ steps

    def submit_all(self, client) -> None:
        """Send the first jobs (as many as ``in_flight_limit``); the others follow as jobs end.
        ``JobRefused`` when the backend cannot take the first one (then nothing runs)."""
        self.client = client
        self.limit = in_flight_limit(client)
        item = self.items[0]
        first = item.variations[0]
        try:
            first.job = session.submit(client, first.request, label=_label(item, first))
        except JobRefused:
            raise
        except Exception as exc:  # noqa: BLE001 - whatever it is, the batch cannot start
            raise JobRefused(f"the backend cannot take the batch: {type(exc).__name__}: {exc}") from exc
        self._send_more()

    def advance(self, context: bpy.types.Context) -> list[Item]:
        """Drain the backend's events, start maps jobs and the next jobs, apply every item whose
        jobs have ended; returns the items applied now."""
        session.drain(self.client)
        if not self.cancelling and any(v.in_flight and v.job.cancel_requested for v in self.variations()):
            self.cancel_all()  # the Cancel button (``atelier.cancel_job``) cancels the whole batch
        for item in self.items:
            for variation in item.variations:
                self._follow(variation, item)
        self._send_more()
        ended = []
        for item in self.items:
            if item.applied:
                continue
            if any(v.waiting and not v.ready for v in item.variations):
                running = any(v.outcome.status == "running" for v in item.variations)
                item.outcome.status = "running" if running else "queued"
                continue
            self._apply(context, item)
            ended.append(item)
        return ended

    def wait(self, context: bpy.types.Context, on_progress=None, on_item=None) -> None:
        """Block until every job has ended and its item is applied (background mode), calling
        ``on_item(item)`` as each is applied; Ctrl-C cancels the whole batch and is re-raised."""
        try:
            while not self.finished:
                pending = next((v.job for v in self.variations() if v.in_flight), None)
                if pending is not None:
                    session.wait(self.client, pending, on_progress=on_progress)
                for item in self.advance(context):
                    if on_item is not None:
                        on_item(item)
        except KeyboardInterrupt:
            self.cancel_all()
            raise

    def cancel_all(self) -> None:
        """Cancel every job sent and send no more; what has finished is still applied."""
        self.cancelling = True
        for variation in self.variations():
            if variation.in_flight:
                session.cancel(self.client, variation.job)
            elif variation.job is None and variation.waiting and not variation.ready:
                variation.outcome.status = variation.outcome.error = "cancelled"  # never sent

    def abandon(self) -> None:
        """End every job here without waiting (Blender ends the operator): nothing more is applied."""
        self.cancelling = True
        for item in self.items:
            for variation in item.variations:
                if variation.in_flight:
                    session.abandon(variation.job, "cancelled")
                if variation.waiting:  # made or not, it is not applied now
                    _release(variation)
                    variation.outcome.status = variation.outcome.error = "cancelled"
            if not item.applied:
                item.applied = True
                item.outcome.settle()

    # ------------------------------------------------------------------ inside

    def _send_more(self) -> None:
        """Send waiting jobs until ``limit`` are in flight (none once the batch is cancelled)."""
        if self.cancelling:
            return
        room = self.limit - sum(1 for v in self.variations() if v.in_flight)
        for item in self.items:
            for variation in item.variations:
                if room <= 0:
                    return
                if variation.job is None and variation.waiting and not variation.ready:
                    self._send(variation, variation.request, _label(item, variation))
                    room -= 1

    def _send(self, variation: Variation, request: protocol.Request, label: str) -> bool:
        """Send one job of ``variation``; a refusal (or any failure to send) fails it alone."""
        try:
            variation.job = session.submit(self.client, request, label=label)
            return True
        except Exception as exc:  # noqa: BLE001 - whatever stops one job must not stop the batch
            reason = str(exc) if isinstance(exc, JobRefused) else f"{type(exc).__name__}: {exc}"
            _release(variation)
            variation.job = None
            variation.outcome.status, variation.outcome.error = "failed", f"cannot be sent: {reason}"
            return False

    def _follow(self, variation: Variation, item: Item) -> None:
        """A job that has just ended: chain its maps job, or note how it ended."""
        job = variation.job
        if job is None or not variation.waiting:
            return
        if not job.done:
            variation.outcome.status = "running" if job.stage == "running" or job.step else "queued"
            return
        if job.error is not None:
            if self._send_again(variation, job):
                return
            _release(variation)
            variation.job = None
            variation.outcome.status = "cancelled" if job.cancelled else "failed"
            variation.outcome.error = ("cancelled" if job.cancelled
                                       else session.format_error(job.error.message, job.error.hint))
            return
        variation.job = None
        if isinstance(job.result, MapsResult):
            variation.maps = job.result
        else:
            variation.texture = job.result
            if item.spec.maps and self.maps_model != preferences.CLASSIC:
                if self.cancelling:  # its maps will not be made: not applied without them
                    _release(variation)
                    variation.outcome.status = "cancelled"
                    variation.outcome.error = "cancelled before its maps were made"
                    return
                request = maps.maps_request(session.new_request_id(), str(job.result.base_color),
                                            item.spec.maps, variation.parameters.seamless.lower(),
                                            self.maps_model)
                self._send(variation, request, f"maps of {item.spec.object}")
                return
        variation.outcome.status = "running"
        variation.ready = True

    def _send_again(self, variation: Variation, job: session.Job) -> bool:
        """A texture job that a backend crash ended before it began is sent once more (it
        waits its turn like a job not sent yet)."""
        began = job.stage == "running" or job.step > 0
        if (job.error.code != "backend_exited" or began or job.cancel_requested or variation.resent
                or variation.texture is not None or self.cancelling):
            return False
        variation.job = None
        variation.resent = True
        variation.outcome.status = "queued"
        return True

    def _apply(self, context: bpy.types.Context, item: Item) -> None:
        """Apply the item's successful variations in order (the first stays on the object)."""
        for number, variation in enumerate(item.variations, 1):
            if not variation.ready or not variation.waiting:
                continue
            outcome = variation.outcome
            made = []
            try:
                applied = item.applier.apply(number, variation.texture, variation.parameters,
                                             then=lambda applied, v=variation, made=made: made.append(
                                                 self._maps_on(context, applied, item.spec, v)))
                outcome.status = "done"
                outcome.material = applied.materials[0].name
                outcome.image = applied.image.name
                if made and made[0] is not None:
                    material_maps.record_history(context.scene, applied.materials[0], made[0])
            except ApplyError as exc:
                outcome.status, outcome.error = "failed", str(exc)
            except Exception as exc:  # noqa: BLE001 - e.g. a linked object made so meanwhile
                outcome.status = "failed"
                outcome.error = f"cannot be applied: {type(exc).__name__}: {exc}"
            finally:
                _release(variation)
        item.applied = True
        item.outcome.settle()

    def _maps_on(self, context, applied: apply_texture.Applied, spec: ItemSpec, variation: Variation):
        """The item's maps on the variation's material(s), in the same step as its texture: the
        backend's, or the classic engine's when that is the maps model."""
        if variation.maps is not None:
            return maps.applied_from_result(context, applied.materials, variation.maps,
                                            material_maps.MapOptions())
        if spec.maps and self.maps_model == preferences.CLASSIC:
            return maps.classic_maps(context, applied.materials, spec.maps,
                                     variation.parameters.seamless.lower(), material_maps.MapOptions())
        return None

    def report(self, error: str = "") -> dict:
        """The JSON report document (``core/batch.py``)."""
        self.finished_at = self.finished_at or _now()
        return rules.report_document(self.outcomes, source=self.source, csv_file=self.csv_file,
                                     model=self.model, started=self.started, finished=self.finished_at,
                                     error=error)


def _variation_fraction(variation: Variation) -> float:
    if not variation.waiting or variation.texture is not None or variation.ready:
        return 1.0
    return variation.job.fraction if variation.job is not None else 0.0


def _release(variation: Variation) -> None:
    """Remove the job folders of what was read (or is not wanted)."""
    for result in (variation.texture, variation.maps):
        if result is not None:
            session.release(result.id)
    variation.texture = variation.maps = None


def _label(item: Item, variation: Variation) -> str:
    return f"{item.outcome.label()}: '{variation.outcome.name[:40]}'"


def _now() -> str:
    return datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds")
