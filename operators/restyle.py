"""``atelier.restyle_render``: a new version of a render that keeps its structure.

The scene camera is rendered at preview quality (or the viewport grabbed), and with
``use_depth`` its depth image steers a depth ControlNet; the backend's ``restyle`` job makes
the new picture by image-to-image, which comes back as an Image datablock with provenance,
shown in an Image Editor when Blender has a window.
"""

from __future__ import annotations

import bpy

from .. import preferences
from ..apply import restyle_render
from ..client import session
from ..client.session import ApplyError
from ..core import protocol
from ..core.image_edit import ImageEditError
from ..core.results import TextureResult
from ..properties.project import control_model_field, restyle_fields
from .image_version import ImageVersionOperator, edit_fields, refused
from .project import control_model
from .style_args import styled_args


class ATELIER_OT_restyle_render(ImageVersionOperator, bpy.types.Operator):
    """Render the scene camera (or grab the viewport) and repaint the picture from the prompt,
    keeping its structure through its depth; the result is a new image"""

    bl_idname = "atelier.restyle_render"
    bl_label = "Restyle Render"

    __annotations__ = {
        "prompt": bpy.props.StringProperty(name="Prompt", description="What the new picture shows"),
        "negative_prompt": bpy.props.StringProperty(
            name="Negative Prompt", description="What the new picture should not show"),
        **restyle_fields(),
        "control_model": control_model_field(),
        **edit_fields(),
    }

    def make_request(self, context: bpy.types.Context, request_id: str) -> protocol.Request:
        self._request_id = request_id
        if not self.prompt.strip():
            raise refused(ApplyError("the prompt is empty; describe the new look, e.g. 'oil painting, "
                                     "warm evening light'"))
        args = styled_args(self)
        try:
            fields = self.common_fields(request_id, args)
            strength = self.checked_strength(args, fields["steps"])
            picture = self.input_folder() / "render.png"
            if self.source == "VIEWPORT":
                size = restyle_render.grab_viewport(context, picture)
            else:
                size = restyle_render.render_camera(context, picture)
            depth = self._depth(context, size) if self.use_depth else ""
        except (ApplyError, ImageEditError, OSError, ValueError, RuntimeError) as exc:
            raise refused(exc) from None
        self._style = args.style
        self._prompts = (self.prompt.strip(), self.negative_prompt.strip())
        return protocol.RestyleRequest(**fields, image=str(picture), control_image=depth, strength=strength,
                                       control_model=control_model(self) if self.use_depth else "")

    def _depth(self, context: bpy.types.Context, size: tuple[int, int]) -> str:
        """The depth image of what was rendered or grabbed, as the ControlNet expects it (near
        bright, background black)."""
        from ..apply import project_render  # the depth renderer, loaded on use

        path = self.input_folder() / "depth.png"
        if self.source == "VIEWPORT":
            with restyle_render.viewport_camera(context) as camera:
                project_render.write_depth_control_image(context, camera, *size, path)
        else:
            project_render.write_depth_control_image(context, context.scene.camera, *size, path)
        return str(path)

    def apply_result(self, context: bpy.types.Context, result: TextureResult) -> str:
        try:
            image = restyle_render.restyled_image(result.base_color, self._prompts[0],
                                                  result.provenance.to_dict(), preferences.image_storage())
        finally:
            session.release(result.id)  # packed or copied by now, or failed: the job folder goes
        shown = restyle_render.show_image(context, image)
        depth = "with its depth" if self.use_depth else "without depth"
        where = "; shown in the Image Editor" if shown else ""
        return "; ".join([f"Restyled the {self.source.lower()} {depth}: image {image.name!r} "
                          f"(seed {result.settings.seed}){where}", *result.notes])

    def job_label(self) -> str:
        return f"restyle '{self.prompt.strip()[:40]}'"


classes = (ATELIER_OT_restyle_render,)
register, unregister = bpy.utils.register_classes_factory(classes)
