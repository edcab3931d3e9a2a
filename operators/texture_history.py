"""Texture history: put an earlier material on the selection again, or make it again."""

import bpy

from ..apply import texture as apply_texture
from . import texture as generate


def _entry(context: bpy.types.Context, index: int):
    history = context.scene.atelier.history
    return history[index] if 0 <= index < len(history) else None


class ATELIER_OT_texture_history_apply(bpy.types.Operator):
    """Put this history entry's material on the selected objects again"""

    bl_idname = "atelier.texture_history_apply"
    bl_label = "Re-apply"
    bl_options = {"REGISTER", "UNDO"}

    index: bpy.props.IntProperty(name="Index", description="History entry (-1 = the selected one)",
                                 default=-1, min=-1)

    @classmethod
    def poll(cls, context: bpy.types.Context) -> bool:
        if not apply_texture.pick_targets(context):
            cls.poll_message_set("Select a mesh object to put the material on")
            return False
        return True

    def execute(self, context: bpy.types.Context) -> set[str]:
        index = self.index if self.index >= 0 else context.scene.atelier.history_index
        item = _entry(context, index)
        if item is None:
            self.report({"ERROR"}, f"there is no history entry {index}")
            return {"CANCELLED"}
        material = bpy.data.materials.get(item.material_name)
        if material is None:
            self.report({"ERROR"}, f"material {item.material_name!r} no longer exists; "
                                   "use Regenerate to make it again")
            return {"CANCELLED"}
        targets = apply_texture.pick_targets(context)
        reason = projected_refusal(item, material, targets) or apply_texture.material_slot_problem(targets)
        if reason:
            self.report({"ERROR"}, reason)
            return {"CANCELLED"}
        undo: list = []
        for obj in targets:
            apply_texture.assign_material(obj, material, undo)
        self.report({"INFO"}, f"Material {material.name!r} on {len(targets)} object(s)")
        return {"FINISHED"}


def projected_refusal(item, material: bpy.types.Material, targets) -> str:
    """Why a projection's material cannot go on ``targets`` ('' when it can): it was baked into
    its own meshes' UV layout, through one UV map by name, so it fits only those meshes."""
    if item.kind != "PROJECT":
        return ""
    painted = set(item.targets.split(", "))
    others = [obj.name for obj in targets if obj.name not in painted]
    if others:
        return (f"{material.name!r} was projected onto {item.targets}, baked into their UV layout; it "
                f"does not fit {others[0]!r}: select {item.targets}, or use Project for the others")
    uv_nodes = [node.uv_map for node in material.node_tree.nodes if node.bl_idname == "ShaderNodeUVMap"]
    for obj in targets:
        missing = [name for name in uv_nodes if name not in obj.data.uv_layers]
        if missing:
            return (f"{obj.name!r} has no UV map {missing[0]!r}, which {material.name!r} is baked into; "
                    "use Project to paint it again")
    return ""


# How an edited entry was made, and the button that makes such a version.
EDITED = {"REFINE": ("refined", "Refine"), "INPAINT": ("inpainted", "Inpaint"),
          "UPSCALE": ("upscaled", "Upscale")}


def not_regenerable(item) -> str:
    """Why ``item`` cannot be generated again ('' when it can): a refined, inpainted or upscaled
    version was made from its previous picture, and a projection from its mesh's views, which a
    prompt alone does not make again."""
    if item is not None and item.kind == "PROJECT":
        return (f"{item.name!r} was painted onto {item.targets or 'its mesh'} from several views, not "
                "generated from a prompt alone; use Project in the Project panel again")
    if item is None or item.kind not in EDITED:
        return ""
    made, button = EDITED[item.kind]
    source = repr(item.previous_image.name) if item.previous_image else "an earlier picture"
    return (f"{item.name!r} was {made} from {source}, not generated from a prompt; "
            f"select a generated entry, or use {button} in the Refine panel again")


class ATELIER_OT_texture_history_regenerate(bpy.types.Operator):
    """Generate this history entry again with the same prompt, settings and seed"""

    bl_idname = "atelier.texture_history_regenerate"
    bl_label = "Regenerate"

    index: bpy.props.IntProperty(name="Index", description="History entry (-1 = the selected one)",
                                 default=-1, min=-1)

    @classmethod
    def poll(cls, context: bpy.types.Context) -> bool:
        reason = generate.refusal(context)
        if not reason and context.window_manager.atelier.running:
            reason = "An Atelier job is running; wait for it or cancel it"
        if not reason:
            reason = not_regenerable(_entry(context, context.scene.atelier.history_index))
        if reason:
            cls.poll_message_set(reason)
            return False
        return True

    def execute(self, context: bpy.types.Context) -> set[str]:
        return self.invoke(context, None)

    def invoke(self, context: bpy.types.Context, event) -> set[str]:
        index = self.index if self.index >= 0 else context.scene.atelier.history_index
        item = _entry(context, index)
        if item is None:
            self.report({"ERROR"}, f"there is no history entry {index}")
            return {"CANCELLED"}
        reason = generate.refusal(context) or not_regenerable(item)
        if reason:
            self.report({"ERROR"}, reason)
            return {"CANCELLED"}
        # INVOKE keeps the job asynchronous in the UI; in background it blocks as usual. The
        # maps are the entry's own, made by the same engine (none for an entry that had none).
        models = [m.model for m in item.maps if m.model]
        try:
            outcome = bpy.ops.atelier.generate_texture(
                "INVOKE_DEFAULT", prompt=item.prompt, negative_prompt=item.negative_prompt,
                width=item.width, height=item.height, steps=item.steps, guidance=item.guidance,
                seed=item.seed, seamless=item.seamless, style=item.style, model=item.model,
                maps={m.role.upper() for m in item.maps}, maps_model=models[0] if models else "")
        except RuntimeError as exc:
            # The entry's settings no longer work (a style or model folder gone, a size edited):
            # the texture operator refused them and changed nothing; say its reason as this one's.
            self.report({"ERROR"}, _reported_errors(exc))
            return {"CANCELLED"}
        # The texture operator owns the running job; this one added no modal handler of its own,
        # so it must end now rather than claim to run on.
        return {"FINISHED"} if "RUNNING_MODAL" in outcome else outcome


def _reported_errors(exc: RuntimeError) -> str:
    """The errors a nested ``bpy.ops`` call reported, without Blender's 'Error: ' before each."""
    lines = (line.strip() for line in str(exc).splitlines())
    return "; ".join(line.removeprefix("Error: ") for line in lines if line)


classes = (ATELIER_OT_texture_history_apply, ATELIER_OT_texture_history_regenerate)
register, unregister = bpy.utils.register_classes_factory(classes)
