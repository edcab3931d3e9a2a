"""``atelier.generate_texture``: a texture from a prompt, applied as a material.

The backend makes the image (asynchronous in the UI, blocking in ``blender -b``); with the
texture model ``builtin`` the built-in engine makes a procedural material at once instead.
PBR maps follow in the same step: the classic engine from the image inside Blender, or a
backend ``maps`` job chained after the texture job (``follow_up``). A ``style`` expands the
prompts and supplies steps, guidance and seamless where the call did not pass them
(``style_args``).

In the UI the backend sends the finished pixels ahead of the PNG (``early_pixels``): the
material goes on from them at once (``show_early``) and the PNG with its record takes the early
Image's place when the result comes (``early_texture.finish_early``); a call that fails or is
cancelled after that takes the early material off again.
"""

import functools
import math

import bpy

from .. import preferences
from ..apply import early_texture, material_maps
from ..apply import texture as apply_texture
from ..client import session
from ..client.session import ApplyError, JobRefused
from ..core import limits, protocol
from ..core.families import SIZE_MULTIPLE
from ..core.results import MapsResult, TextureResult
from ..properties.fields import model_field
from ..properties.maps import maps_fields
from ..properties.texture import texture_fields
from . import app_handlers, maps
from .backend_operator import BackendJobOperator
from .style_args import StyledArgs, styled_args


def refusal(context: bpy.types.Context) -> str:
    """Why a texture cannot be generated now ('' when it can): the reason a greyed-out button shows.

    Only what holds whatever the operator's arguments: poll cannot see them, and a script's
    ``model='builtin'`` needs no backend, so a backend that cannot start is reported when the
    operator runs (and greys out the panel's button).
    """
    if not apply_texture.pick_targets(context):
        return "Select a mesh object to put the texture on"
    return ""


class ATELIER_OT_generate_texture(BackendJobOperator, bpy.types.Operator):
    """Generate a texture from the prompt and put it on the selected objects as a material"""

    bl_idname = "atelier.generate_texture"
    bl_label = "Generate Texture"

    # The panel's fields with soft limits: a script's out-of-range value is refused, not clamped.
    __annotations__ = {
        **texture_fields(hard=False),
        "target": bpy.props.StringProperty(name="Target", description="Object to texture (empty = "
                                           "the selected objects, else the active one)"),
        "model": model_field(),
        **maps_fields(),
    }
    _texture_result: TextureResult | None = None  # kept while its maps job runs
    _early: early_texture.EarlyTexture | None = None  # the texture put on from its early pixels

    @property
    def builtin_alternative(self) -> str:
        """The way round a model that cannot be had: the texture's, or the maps' once the
        texture is made."""
        if self._texture_result is not None:
            return maps.CLASSIC_ALTERNATIVE
        return "or use model='builtin' (the built-in engine) for a procedural draft now"

    @classmethod
    def poll(cls, context: bpy.types.Context) -> bool:
        reason = refusal(context)
        if reason:
            cls.poll_message_set(reason)
            return False
        return True

    # ------------------------------------------------------------------ engine choice

    def _model(self) -> str:
        return self.model.strip() or preferences.resolved_model("texture")

    def runs_in_blender(self, context: bpy.types.Context) -> bool:
        return self._model() == preferences.BUILTIN

    def run_in_blender(self, context: bpy.types.Context) -> str:
        """The built-in engine: a procedural material now, no backend."""
        from ..builtin import texture as builtin_texture  # only this path needs it

        self._check_prompt()
        styled = styled_args(self)
        self._check_numbers()
        targets = apply_texture.pick_targets(context, self.target.strip())
        if not targets:
            raise ApplyError("select a mesh object or name one in target")
        apply_texture.check_can_take_material(targets)
        seed = self._resolved_seed()
        # The expanded prompt, as a model would get it (the styles name no material or colour).
        material, record = builtin_texture.apply_procedural_material(
            context, targets, styled.prompt, seed=seed, style=styled.style)
        applied = apply_texture.Applied(materials=[material], objects=targets)
        apply_texture.add_history(context.scene, self._parameters(styled, seed, preferences.BUILTIN),
                                  applied, record)
        message = f"Built-in engine: material {material.name!r} on {_object_list(targets)}"
        roles = maps.wanted_roles(self)
        if roles:  # the recipe's own nodes: no images, nothing that can fail
            from ..builtin import texture_maps

            made = material_maps.AppliedMaps(provenance=record, images=dict.fromkeys(
                texture_maps.add_maps(material, roles, self.displacement, self.use_ao)))
            material_maps.store_maps_provenance(material, made)
            material_maps.record_history(context.scene, material, made)
            message += f"; procedural maps {', '.join(made.images) or 'none'}"
        return message

    # ------------------------------------------------------------------ the backend job

    def make_request(self, context: bpy.types.Context, request_id: str) -> protocol.Request:
        self._check_prompt()
        styled = styled_args(self)
        self._check_numbers()
        check_size(self.width, self.height)
        model = self._model()
        if not model:
            raise JobRefused("no texture model is set; set one in Atelier's preferences, "
                             "ATELIER_TEXTURE_MODEL, or use model='builtin'")
        try:
            targets = apply_texture.pick_targets(context, self.target.strip())
            apply_texture.check_can_take_material(targets)
        except ApplyError as exc:
            raise JobRefused(str(exc)) from None
        if not targets:
            raise JobRefused("select a mesh object, or name one in target")
        # Names, not objects: the result is applied later and the objects may be gone by then.
        self._target_names = [obj.name for obj in targets]
        self._parameters_sent = self._parameters(styled, self._resolved_seed(), model)
        self._maps = maps.wanted_roles(self)
        self._maps_model = maps.maps_model(self) if self._maps else ""
        return texture_request(request_id, styled, self._parameters_sent,
                               early_pixels=self.early_pixels_wanted())

    def follow_up(self, context: bpy.types.Context, result) -> protocol.Request | None:
        """Maps from a model run in the backend, on the texture just made, before either is applied."""
        if not isinstance(result, TextureResult) or not self._maps or self._maps_model == preferences.CLASSIC:
            return None
        self._texture_result = result
        return maps.maps_request(session.new_request_id(), str(result.base_color), self._maps,
                                 self._parameters_sent.seamless.lower(), self._maps_model)

    def apply_result(self, context: bpy.types.Context, result: TextureResult | MapsResult) -> str:
        texture, maps_result = ((self._texture_result, result) if isinstance(result, MapsResult)
                                else (result, None))
        made = []  # the maps, put on in the same step as the texture (their failure undoes it)

        def put_maps(applied: apply_texture.Applied) -> None:
            if maps_result is not None:
                made.append(maps.applied_from_result(context, applied.materials, maps_result,
                                                     maps.options(self)))
            elif self._maps:
                made.append(maps.classic_maps(context, applied.materials, self._maps,
                                              self._parameters_sent.seamless.lower(), maps.options(self)))

        early, self._early = self._early, None  # completed or taken off below, either way
        apply = (apply_texture.apply_texture if early is None
                 else functools.partial(early_texture.finish_early, early))
        try:
            applied = apply(texture, self._parameters_sent, self._target_names, preferences.image_storage(),
                            then=put_maps)
        finally:
            session.release(texture.id)  # packed or copied by now, or failed: the job folder goes
            if maps_result is not None:
                session.release(maps_result.id)
        message = (f"Material {applied.materials[0].name!r} on {_object_list(applied.objects)}"
                   f" (seed {self._parameters_sent.seed})")
        if made:
            material_maps.record_history(context.scene, applied.materials[0], made[0])
            message += f"; {maps.describe(made[0])}"
        if applied.missing:
            message += f"; skipped deleted object(s) {', '.join(applied.missing)}"
        return message

    def show_early(self, context: bpy.types.Context, job: session.Job) -> None:
        """The material from the pixels sent ahead of the PNG, on the targets now."""
        early = job.early
        try:
            self._early = early_texture.show_early(early.pixels, early.width, early.height,
                                                   self._parameters_sent, self._target_names)
        except (ApplyError, OSError, ValueError):  # ValueError: nothing may escape the timer tick
            pass  # nothing shows early; the result is applied as usual, or fails on its own

    def drop_early(self, context: bpy.types.Context) -> None:
        """The early material off again, the slots as they were."""
        early, self._early = self._early, None
        if early is not None:
            early_texture.drop_early(early)

    def release_request(self, context: bpy.types.Context) -> None:
        """A texture whose maps job failed or was cancelled is not applied: its folder goes."""
        job = self._job
        if self._texture_result is not None and (job is None or not job.done or job.error is not None):
            session.release(self._texture_result.id)

    def job_label(self) -> str:
        if self._texture_result is not None:
            return f"maps of '{self.prompt.strip()[:40]}'"
        return f"texture '{self.prompt.strip()[:40]}'"

    # ------------------------------------------------------------------ helpers

    def _check_prompt(self) -> None:
        if not self.prompt.strip():
            raise JobRefused("the prompt is empty; describe the texture, e.g. 'weathered red brick wall'")

    def _check_numbers(self) -> None:
        """What Blender's soft limits let through; the backend checks sizes against its limits."""
        if not -1 <= self.seed <= protocol.SEED_MAX:
            raise JobRefused(f"seed {self.seed} is out of range; use -1 for a random seed "
                             f"or 0..{protocol.SEED_MAX}")
        if not math.isfinite(self.guidance):  # NaN passes every comparison below
            raise JobRefused(f"guidance {self.guidance} is not a finite number; set one such as 7.5, "
                             "or 0 for the model's recommended value")
        if self.steps < 0 or self.guidance < 0:
            raise JobRefused("steps and guidance cannot be negative; use 0 for the model's recommended value")

    def _resolved_seed(self) -> int:
        """-1 becomes a concrete seed here, so the history can always make it again."""
        return self.seed if self.seed >= 0 else protocol.random_seed()

    def _parameters(self, styled: StyledArgs, seed: int, model: str) -> apply_texture.TextureParameters:
        """What the history records of this call (``texture_parameters``)."""
        return texture_parameters(styled, prompt=self.prompt.strip(), negative_prompt=self.negative_prompt,
                                  width=self.width, height=self.height, seed=seed, model=model)


def check_size(width: int, height: int) -> None:
    """``JobRefused`` for a side that is not the multiple every model family accepts (the
    backend refuses a size out of its limits)."""
    for axis, value in (("width", width), ("height", height)):
        if value >= limits.MIN_SIZE and value % SIZE_MULTIPLE:
            lower = value // SIZE_MULTIPLE * SIZE_MULTIPLE
            raise JobRefused(f"{axis} {value} is not a multiple of {SIZE_MULTIPLE}; "
                             f"use {lower} or {lower + SIZE_MULTIPLE}")


def texture_parameters(styled: StyledArgs, *, prompt: str, negative_prompt: str, width: int, height: int,
                       seed: int, model: str) -> apply_texture.TextureParameters:
    """What the history records of a texture: the artist's prompts, the style's name, and the
    settings sent (a style's default where the call did not pass one)."""
    return apply_texture.TextureParameters(
        prompt=prompt, negative_prompt=negative_prompt.strip(), width=width, height=height,
        steps=styled.value("steps"), guidance=styled.value("guidance"), seed=seed,
        seamless=styled.value("seamless"), style=styled.style, model=model)


def texture_request(request_id: str, styled: StyledArgs, parameters: apply_texture.TextureParameters,
                    early_pixels: bool = False) -> protocol.TextureRequest:
    """The backend request for a texture with ``parameters`` (what the history records): the
    history keeps the artist's words, the model gets them with the style's (``styled``).
    ``early_pixels``: the finished pixels are sent ahead of the PNG, to be shown at once."""
    p = parameters
    return protocol.TextureRequest(
        id=request_id, prompt=styled.prompt, negative_prompt=styled.negative_prompt,
        width=p.width, height=p.height, steps=p.steps or None, guidance=p.guidance or None,
        seed=p.seed, seamless=p.seamless.lower(), style=p.style, model=p.model,
        device=preferences.resolved_device(), allow_network=preferences.allow_network(),
        output_dir=preferences.user_folder("jobs"),  # the session makes the job's own folder in it
        early_pixels=early_pixels,
    )


def _object_list(objects) -> str:
    names = [obj.name for obj in objects]
    return ", ".join(names[:3]) + (f" and {len(names) - 3} more" if len(names) > 3 else "")


classes = (ATELIER_OT_generate_texture,)
_register_classes, _unregister_classes = bpy.utils.register_classes_factory(classes)


def register() -> None:
    _register_classes()
    app_handlers.add(early_texture.SAVE_HANDLERS)  # no saved file holds an early texture


def unregister() -> None:
    app_handlers.remove(early_texture.SAVE_HANDLERS)
    _unregister_classes()
