"""``atelier.suggest_scene`` and ``atelier.apply_scene_idea``: scene ideas as data, built by Atelier.

Suggesting asks the text model (a backend job: asynchronous in the UI, blocking in
``blender -b``) or, with the text model ``builtin``, the built-in templates at once; the ideas
land in ``Scene.atelier.ideas``. Applying builds one of them as a block-out in one undo step.
"""

import math

import bpy

from .. import preferences
from ..apply import scene_idea
from ..client.session import ApplyError, JobRefused
from ..core import ideas as idea_rules
from ..core import protocol
from ..core.results import IdeasResult
from ..properties.fields import model_field, seed_field
from ..properties.ideas import request_fields
from .backend_operator import BackendJobOperator


class ATELIER_OT_suggest_scene(BackendJobOperator, bpy.types.Operator):
    """Suggest scene ideas for the prompt; they are listed in the Scene Ideas panel to review and apply"""

    bl_idname = "atelier.suggest_scene"
    bl_label = "Suggest Scene Ideas"
    builtin_alternative = "or use model='builtin' (the built-in engine) for ideas from block-out templates"

    # The panel's fields with soft limits: a script asking for 9 ideas gets an error that says
    # so, not a silent 5.
    __annotations__ = {
        **request_fields(hard=False),
        "seed": seed_field(hard=True),
        "model": model_field(),
    }

    # No poll on the backend: a script may pass model='builtin', which poll cannot see. Without
    # a backend the job is refused with the reason, and the panel shows it beforehand.

    def _model(self) -> str:
        return self.model.strip() or preferences.resolved_model("text")

    def _seed(self) -> int | None:
        return None if self.seed < 0 else self.seed

    def _check_request(self) -> None:
        problems = idea_rules.request_problems(self.prompt, self.count)
        if problems:
            raise JobRefused("; ".join(problems))

    # ------------------------------------------------------------------ engine choice

    def runs_in_blender(self, context: bpy.types.Context) -> bool:
        return self._model() == preferences.BUILTIN

    def uses_text_server(self, context: bpy.types.Context) -> bool:
        return True

    def run_in_blender(self, context: bpy.types.Context) -> str:
        """The built-in templates: ideas now, no backend."""
        from ..builtin import ideas as builtin_ideas  # only this path needs it

        self._check_request()
        ideas, record = builtin_ideas.suggest_ideas(self.prompt, self.count, self._seed())
        repairs = scene_idea.store_ideas(context.scene, ideas, prompt=self.prompt,
                                         engine=preferences.BUILTIN, provenance=record)
        return ("Built-in engine: " + _summary(context.scene, self.prompt)
                + scene_idea.repair_note(repairs))

    # ------------------------------------------------------------------ the backend job

    def make_request(self, context: bpy.types.Context, request_id: str) -> protocol.Request:
        self._check_request()
        model = self._model()
        if not model:
            raise JobRefused("no text model is set; set one in Atelier's preferences, "
                             "ATELIER_TEXT_MODEL, or use model='builtin'")
        self._model_sent = model
        return protocol.IdeasRequest(
            id=request_id, prompt=self.prompt, count=self.count,
            context=scene_context(context) if self.use_selection else {},
            model=model, device=preferences.resolved_device(),
            allow_network=preferences.allow_network(), seed=self._seed(),
        )

    def apply_result(self, context: bpy.types.Context, result: IdeasResult) -> str:
        repairs = scene_idea.store_ideas(context.scene, list(result.ideas), prompt=self.prompt,
                                         engine=result.provenance.model or self._model_sent,
                                         provenance=result.provenance.to_dict())
        # The backend cleans the answer, and so did the parser: ``repairs`` says what changed.
        return _summary(context.scene, self.prompt) + scene_idea.repair_note(list(result.repairs) + repairs)

    def job_label(self) -> str:
        return f"scene ideas '{self.prompt.strip()[:40]}'"


class ATELIER_OT_apply_scene_idea(bpy.types.Operator):
    """Build the scene idea as a block-out in a new collection: primitives, lights, camera, world, notes"""

    bl_idname = "atelier.apply_scene_idea"
    bl_label = "Apply Scene Idea"
    bl_options = {"REGISTER", "UNDO"}

    index: bpy.props.IntProperty(name="Index",
                                 description="Which of the scene's ideas to build (0 = the first)")

    @classmethod
    def poll(cls, context: bpy.types.Context) -> bool:
        if context.scene is None or not context.scene.atelier.ideas:
            cls.poll_message_set("Suggest scene ideas first")
            return False
        return True

    def execute(self, context: bpy.types.Context) -> set[str]:
        scene = context.scene
        try:
            idea, repairs = scene_idea.stored_idea(scene, self.index)
            stored = scene.atelier.ideas[self.index]
            built = scene_idea.build_idea(
                scene, idea, source=f"Suggested by {scene_idea.origin(stored, self.index)} for "
                                    f"'{stored.prompt}'")
        except ApplyError as exc:
            self.report({"ERROR"}, str(exc))
            return {"CANCELLED"}
        camera = " (now the scene camera)" if built.made_scene_camera else ""
        self.report({"INFO"}, f"Built {built.collection.name!r}: {len(built.objects)} objects, "
                              f"{len(built.lights)} lights, camera {built.camera.name!r}{camera}; "
                              f"notes in the text {built.text.name!r}{scene_idea.repair_note(repairs)}")
        return {"FINISHED"}


def scene_context(context: bpy.types.Context) -> dict:
    """What the model hears about the scene: the selected objects' names and sizes, the palette.
    A size or colour a script made NaN says nothing (a size of 0, a colour left out) rather
    than stopping the request."""
    selected = [{"name": obj.name, "dimensions": [round(v, 4) if math.isfinite(v) else 0.0
                                                  for v in obj.dimensions]}
                for obj in context.selected_objects[:idea_rules.MAX_CONTEXT_OBJECTS]]
    result = {"selected": selected} if selected else {}
    palette = context.scene.atelier.palette.palette
    if palette is not None and len(palette.colors):
        from ..apply.palette import is_colour, palette_color_hex  # the colour space differs per version

        result["palette"] = [palette_color_hex(color) for color in palette.colors
                             if is_colour(color.color)]
    return result


def _summary(scene: bpy.types.Scene, prompt: str) -> str:
    titles = ", ".join(repr(idea.title) for idea in scene.atelier.ideas)
    return f"{len(scene.atelier.ideas)} scene idea(s) for '{prompt.strip()[:40]}': {titles}"


classes = (ATELIER_OT_suggest_scene, ATELIER_OT_apply_scene_idea)
register, unregister = bpy.utils.register_classes_factory(classes)
