"""``atelier.generate_texture``: a texture from a prompt, applied as a material.

The backend makes the image (asynchronous in the UI, blocking in ``blender -b``); with the
texture model ``builtin`` the built-in engine makes a procedural material at once instead.
"""


import bpy

from .. import preferences
from ..apply import texture as apply_texture
from ..client import session
from ..client.session import ApplyError, JobRefused
from ..core import limits, protocol
from ..core.families import SIZE_MULTIPLE
from ..core.results import TextureResult
from ..properties.fields import model_field
from ..properties.texture import texture_fields
from .backend_operator import BackendJobOperator


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
    builtin_alternative = "or use model='builtin' (the built-in engine) for a procedural draft now"

    # The panel's fields with soft limits: a script's out-of-range value is refused, not clamped.
    __annotations__ = {
        **texture_fields(hard=False),
        "target": bpy.props.StringProperty(name="Target", description="Object to texture (empty = "
                                           "the selected objects, else the active one)"),
        "model": model_field(),
    }

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
        self._check_numbers()
        targets = apply_texture.pick_targets(context, self.target.strip())
        if not targets:
            raise ApplyError("select a mesh object or name one in target")
        seed = self._resolved_seed()
        material, record = builtin_texture.apply_procedural_material(
            context, targets, self.prompt, seed=seed)
        applied = apply_texture.Applied(materials=[material], objects=targets)
        apply_texture.add_history(context.scene, self._parameters(seed, preferences.BUILTIN),
                                  applied, record)
        return f"Built-in engine: material {material.name!r} on {_object_list(targets)}"

    # ------------------------------------------------------------------ the backend job

    def make_request(self, context: bpy.types.Context, request_id: str) -> protocol.Request:
        self._check_prompt()
        self._check_numbers()
        for axis in ("width", "height"):
            value = getattr(self, axis)
            # The multiple every model family accepts; the backend refuses a size out of its limits.
            if value >= limits.MIN_SIZE and value % SIZE_MULTIPLE:
                lower = value // SIZE_MULTIPLE * SIZE_MULTIPLE
                raise JobRefused(f"{axis} {value} is not a multiple of {SIZE_MULTIPLE}; "
                                 f"use {lower} or {lower + SIZE_MULTIPLE}")
        model = self._model()
        if not model:
            raise JobRefused("no texture model is set; set one in Atelier's preferences, "
                             "ATELIER_TEXTURE_MODEL, or use model='builtin'")
        try:
            targets = apply_texture.pick_targets(context, self.target.strip())
        except ApplyError as exc:
            raise JobRefused(str(exc)) from None
        if not targets:
            raise JobRefused("select a mesh object, or name one in target")
        # Names, not objects: the result is applied later and the objects may be gone by then.
        self._target_names = [obj.name for obj in targets]
        self._parameters_sent = self._parameters(self._resolved_seed(), model)
        p = self._parameters_sent
        return protocol.TextureRequest(
            id=request_id, prompt=p.prompt, negative_prompt=p.negative_prompt,
            width=p.width, height=p.height, steps=p.steps or None, guidance=p.guidance or None,
            seed=p.seed, seamless=p.seamless.lower(), model=model,
            device=preferences.resolved_device(), allow_network=preferences.allow_network(),
            output_dir=preferences.user_folder("jobs"),  # the session makes the job's own folder in it
        )

    def apply_result(self, context: bpy.types.Context, result: TextureResult) -> str:
        try:
            applied = apply_texture.apply_texture(result, self._parameters_sent, self._target_names,
                                                  preferences.image_storage())
        finally:
            session.release(result.id)  # packed or copied by now, or failed: the job folder goes
        message = (f"Material {applied.materials[0].name!r} on {_object_list(applied.objects)}"
                   f" (seed {self._parameters_sent.seed})")
        if applied.missing:
            message += f"; skipped deleted object(s) {', '.join(applied.missing)}"
        return message

    def job_label(self) -> str:
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
        if self.steps < 0 or self.guidance < 0:
            raise JobRefused("steps and guidance cannot be negative; use 0 for the model's recommended value")

    def _resolved_seed(self) -> int:
        """-1 becomes a concrete seed here, so the history can always make it again."""
        return self.seed if self.seed >= 0 else protocol.random_seed()

    def _parameters(self, seed: int, model: str) -> apply_texture.TextureParameters:
        return apply_texture.TextureParameters(
            prompt=self.prompt.strip(), negative_prompt=self.negative_prompt.strip(),
            width=self.width, height=self.height, steps=self.steps, guidance=self.guidance,
            seed=seed, seamless=self.seamless, model=model)


def _object_list(objects) -> str:
    names = [obj.name for obj in objects]
    return ", ".join(names[:3]) + (f" and {len(names) - 3} more" if len(names) > 3 else "")


classes = (ATELIER_OT_generate_texture,)
register, unregister = bpy.utils.register_classes_factory(classes)
