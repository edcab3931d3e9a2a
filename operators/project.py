"""``atelier.project_texture``: paint the selected meshes from several views with a depth-guided
model and bake the views into each mesh's own UV texture.

One operator call is a chain of backend jobs (``BackendJobOperator.follow_up``): one ``project``
job per view (the first paints the whole view; each later one only what no earlier view
painted), then, when ``maps`` asks for them and no classic engine makes them, one ``maps`` job
per mesh. Blender renders each view's depth and known picture and bakes the answers
(``apply/projection_run.py``); only when the last job has answered is anything put on the
meshes (``apply/projected_material.py``). A failure or Esc at any point leaves the scene as it
was: no material, no views, no new UV map.
"""

from __future__ import annotations

import bpy

from .. import preferences
from ..apply import material_maps, projected_material, uv_unwrap
from ..apply import texture as apply_texture
from ..apply.names import MAX_NAME_BYTES, datablock_name
from ..client import session
from ..client.session import ApplyError, JobRefused
from ..core import limits, protocol, uv_overlap
from ..core.families import SIZE_MULTIPLE
from ..core.projection import MAX_VIEWS
from ..core.results import MapsResult, TextureResult
from ..properties.fields import model_field, seed_field
from ..properties.maps import maps_fields
from ..properties.project import control_model_field, project_fields
from ..properties.style import style_field
from . import maps, picture_file
from .backend_operator import BackendJobOperator
from .image_version import request_fields
from .style_args import styled_args


def control_model(operator: bpy.types.Operator) -> str:
    """The depth ControlNet to ask for: the operator's, else ATELIER_CONTROL_MODEL or the
    preference ('' = the backend's table entry for the texture model's family)."""
    return operator.control_model.strip() or preferences.resolved_model("control")


def meshes(context: bpy.types.Context, target: str) -> list[bpy.types.Object]:
    """The meshes to paint: ``target``, else the selected meshes, else the active mesh; each
    checked paintable (``check_paintable``)."""
    if target:
        obj = context.blend_data.objects.get(target)
        if obj is None:
            raise JobRefused(f"there is no object named {target!r}; check the target name")
        if obj.type != "MESH":
            raise JobRefused(f"{target!r} is a {obj.type.lower()}; projection paints mesh objects, "
                             "choose a mesh")
        found = [obj]
    else:
        selected = list(context.selected_objects or [])
        found = [obj for obj in selected if obj.type == "MESH"]
        active = context.active_object
        if not found and active is not None and active.type == "MESH":
            found = [active]
        if not found:
            raise JobRefused(_nothing_to_paint(selected))
    check_paintable(context, found)
    return found


def _nothing_to_paint(selected) -> str:
    """Why no mesh is there to paint: instanced collections named, since they look like meshes."""
    instancers = [obj.name for obj in selected if obj.instance_type == "COLLECTION"]
    if instancers:
        return (f"{instancers[0]!r} instances a collection, and instanced collections are not painted; "
                "make them real (Object > Apply > Make Instances Real) or select the meshes themselves")
    return "no mesh is selected; select the mesh objects to paint, or name one in target"


def check_paintable(context: bpy.types.Context, objects) -> None:
    """Refuse meshes a projection cannot change as asked: in Edit Mode (their faces are not
    evaluated), linked from a library (not editable), or sharing one mesh with other objects
    (the material and UV map would land on all of them)."""
    for obj in objects:
        if obj.mode != "OBJECT":
            raise JobRefused(f"{obj.name!r} is in {obj.mode.replace('_', ' ').title()} Mode; switch to "
                             "Object Mode (Tab) to paint it")
        linked = apply_texture.linked_problem(apply_texture.with_meshes([obj]))
        if linked:
            raise JobRefused(linked)
        if obj.data.users > 1:
            sharing = [o.name for o in context.blend_data.objects if o.data == obj.data]
            if len(sharing) > 1:
                names = ", ".join(repr(name) for name in sharing)
                raise JobRefused(f"{names} share one mesh; make single user (Object > Relations > Make "
                                 "Single User > Object & Data) or select one")


def check_faces(context: bpy.types.Context, objects) -> None:
    """Refuse meshes with no faces, and more faces in all than ``limits.max_project_faces``
    (counted on the meshes as rendered, modifiers at their render settings), before anything
    is rendered."""
    from ..apply.project_render import modifiers_as_rendered  # the projection's own rule

    with modifiers_as_rendered(objects):
        depsgraph = context.evaluated_depsgraph_get()
        counts = {obj.name: len(obj.evaluated_get(depsgraph).data.polygons) for obj in objects}
    for name, faces in counts.items():
        if faces == 0:
            raise JobRefused(f"{name!r} has no faces (modifiers applied): there is no surface to "
                             "paint; select a mesh with faces")
    total = sum(counts.values())
    most = limits.max_project_faces()
    if total > most:
        raise JobRefused(f"the meshes have {total:,} faces (modifiers applied), more than the limit of "
                         f"{most:,}; decimate them, paint fewer at once, or raise "
                         "ATELIER_MAX_PROJECT_FACES")


def check_sizes(views: int, view_size: int, texture_size: int) -> None:
    if not 1 <= views <= MAX_VIEWS:
        raise JobRefused(f"views {views} is out of range; use 1 to {MAX_VIEWS}")
    most = limits.max_size()
    if not limits.MIN_SIZE <= view_size <= most or view_size % SIZE_MULTIPLE:
        raise JobRefused(f"view_size {view_size} does not fit; use a multiple of {SIZE_MULTIPLE} "
                         f"from {limits.MIN_SIZE} to {most}")
    if not limits.MIN_SIZE <= texture_size <= most:
        raise JobRefused(f"texture_size {texture_size} is out of range; use {limits.MIN_SIZE} to {most} "
                         "(ATELIER_MAX_SIZE)")


def uv_map_names(objects, uv_map: str) -> tuple[dict[str, str], list]:
    """object name -> the UV map its texture goes on (``uv_map``, else the active one), and the
    objects that have none and get one by Smart UV Project. A named map a mesh lacks is refused."""
    if len(uv_map.encode()) > MAX_NAME_BYTES:  # Blender cuts longer names: no map is called that
        raise JobRefused(f"uv_map {uv_map[:20]!r}... is {len(uv_map.encode())} bytes long; Blender's UV "
                         f"map names are at most {MAX_NAME_BYTES} bytes, name a map the mesh has")
    names, to_unwrap = {}, []
    for obj in objects:
        layers = obj.data.uv_layers
        if uv_map:
            if uv_map not in layers:
                have = ", ".join(repr(layer.name) for layer in layers) or "none"
                raise JobRefused(f"{obj.name!r} has no UV map named {uv_map!r} (it has {have}); name "
                                 "one it has, or leave uv_map empty for the active one")
            names[obj.name] = uv_map
        elif layers.active is not None:
            names[obj.name] = layers.active.name
        else:
            names[obj.name] = uv_unwrap.UV_MAP_NAME
            to_unwrap.append(obj)
    return names, uv_unwrap.meshes_without_uvs(to_unwrap)


def overlap_warning(context: bpy.types.Context, objects, uv_maps: dict[str, str], unwrapped=()) -> str:
    """A warning naming the meshes whose UV map uses some of its area twice ('' when none);
    ``unwrapped``: the objects whose map Smart UV Project has just made, where another Smart UV
    Project is no way out."""
    depsgraph = context.evaluated_depsgraph_get()
    found, made = [], []
    for obj in objects:
        mesh = obj.evaluated_get(depsgraph).data
        if uv_maps[obj.name] not in mesh.uv_layers:
            continue  # a modifier dropped the map: the bake reports it
        share = uv_overlap.overlap_share(uv_unwrap.uv_triangles(mesh, uv_maps[obj.name]))
        if share > uv_overlap.WARN_SHARE:
            found.append(f"{obj.name!r} ({share:.0%} of UV map {uv_maps[obj.name]!r})")
            made.append(obj in unwrapped)
    if not found:
        return ""
    advice = ("unwrap the mesh by hand (UV > Unwrap, with seams) and name that map in uv_map"
              if all(made) else "give them a UV map without overlaps (UV > Smart UV Project)")
    return (f"overlapping UVs on {', '.join(found)}: faces sharing UV space show the same colours; "
            f"{advice} for a clean result")


def _is_undo(event) -> bool:
    """Ctrl/Cmd+Z or Ctrl+Y / Ctrl+Shift+Z: undo or redo."""
    return event.type in ("Z", "Y") and (event.ctrl or event.oskey)


class ATELIER_OT_project_texture(BackendJobOperator, bpy.types.Operator):
    """Paint the selected meshes from several views with a depth-guided model and bake the
    views into each mesh's UV texture, as a new material"""

    bl_idname = "atelier.project_texture"
    bl_label = "Project Texture"

    __annotations__ = {
        "prompt": bpy.props.StringProperty(name="Prompt", description="What the object is painted as"),
        "negative_prompt": bpy.props.StringProperty(
            name="Negative Prompt", description="What the pictures should not show"),
        **project_fields(hard=False),
        "seed": seed_field(hard=False),
        "model": model_field(),
        "control_model": control_model_field(),
        "target": bpy.props.StringProperty(
            name="Target", description="Mesh to paint (empty = the selected meshes, which share the views)"),
        "uv_map": bpy.props.StringProperty(
            name="UV Map", description="UV map the texture goes on (empty = each mesh's active one; a "
                                       "mesh without any gets \"Atelier\" by Smart UV Project)"),
        **maps_fields(),
        "style": style_field(),
    }

    _run = None  # the ProjectionRun while the chain lasts
    _view = None  # the ViewJob the running project job paints
    _applied = False

    @property
    def builtin_alternative(self) -> str:
        return maps.CLASSIC_ALTERNATIVE if getattr(self, "_map_queue", None) is not None else ""

    # ------------------------------------------------------------------ the first view

    def make_request(self, context: bpy.types.Context, request_id: str) -> protocol.Request:
        try:
            return self._first_request(context, request_id)
        except BaseException:
            self._discard()  # whatever went wrong, no UV map, view or file stays behind
            raise

    def _first_request(self, context: bpy.types.Context, request_id: str) -> protocol.Request:
        if not self.prompt.strip():
            raise JobRefused("the prompt is empty; describe the object, e.g. 'weathered bronze statue'")
        styled = styled_args(self)
        check_sizes(self.views, self.view_size, self.texture_size)
        try:
            self._fields = request_fields(self, request_id, styled, "paint from depth")
        except ApplyError as exc:
            raise JobRefused(str(exc)) from None
        del self._fields["id"]  # each view's request has its own
        self._fields["control_model"] = control_model(self)
        self._roles = maps.wanted_roles(self)
        self._maps_model = maps.maps_model(self) if self._roles else ""
        objects = meshes(context, self.target.strip())
        check_faces(context, objects)
        self._uv_maps, to_unwrap = uv_map_names(objects, self.uv_map.strip())
        self._undo, self._map_queue, self._map_results = [], None, []
        self._applied, self._count = False, 0
        self._name = datablock_name(self.prompt)
        try:
            uv_unwrap.check_can_unwrap(context, to_unwrap, "for the projected texture")
            uv_unwrap.add_uv_maps(context, to_unwrap, self._undo)
            self._warning = overlap_warning(context, objects, self._uv_maps, to_unwrap)
            self._folder = picture_file.input_folder("project", request_id)
            from ..apply.projection_run import ProjectionRun  # renders and bakes: loaded on first use

            self._run = ProjectionRun(context, objects, name=self._name, views=self.views,
                                      view_size=self.view_size, texture_size=self.texture_size,
                                      uv_maps=self._uv_maps, work_dir=self._folder,
                                      storage=preferences.image_storage())
            self._view = self._run.next_view()
        except (ApplyError, ValueError, OSError, RuntimeError) as exc:
            raise JobRefused(str(exc)) from None
        if self._view is None:
            raise JobRefused("no view sees the selected meshes; check that they are visible and not "
                             "hidden from rendering")
        return self._view_request(request_id)

    def _view_request(self, request_id: str) -> protocol.ProjectRequest:
        view = self._view
        return protocol.ProjectRequest(
            id=request_id, control_image=str(view.control_image),
            image=str(view.image) if view.image is not None else "",
            mask=str(view.mask) if view.mask is not None else "", **self._fields)

    # ------------------------------------------------------------------ the chain

    def follow_up(self, context: bpy.types.Context, result) -> protocol.Request | None:
        """The next view's request; after the last view the baked textures, then a maps job per
        mesh when a model in the backend makes the maps."""
        if isinstance(result, MapsResult):
            self._map_results.append(result)
            return self._next_maps_request()
        if not isinstance(result, TextureResult):
            return None
        try:
            return self._after_view(result)
        except ReferenceError:  # an object of the run was deleted meanwhile (Blender's RNA gone)
            self._discard()
            raise JobRefused("a mesh being painted was deleted while the views were painted; nothing "
                             "was changed, paint again") from None
        except BaseException:
            self._discard()
            raise

    def _after_view(self, result: TextureResult) -> protocol.Request | None:
        """Accept the view just painted; the next view's request, else the maps' (or None)."""
        try:
            try:
                self._run.accept(self._view, result.base_color)
            finally:
                self._record = result.provenance.to_dict()
                session.release(result.id)  # the run holds the view's picture now
            self._count += 1
            self._view = self._run.next_view()
            if self._view is not None:
                return self._view_request(session.new_request_id())
            self._textures = self._run.finish()
            self._files = projected_material.write_textures(self._textures, self._folder)
        except (ApplyError, ValueError, OSError, RuntimeError) as exc:
            raise JobRefused(f"the projection failed: {exc}") from None
        if self._roles and self._maps_model != preferences.CLASSIC:
            self._map_queue = list(self._files)
            return self._next_maps_request()
        return None

    def _next_maps_request(self) -> protocol.MapsRequest | None:
        if not self._map_queue:
            return None
        name = self._map_queue.pop(0)
        return maps.maps_request(session.new_request_id(), str(self._files[name]), self._roles, "off",
                                 self._maps_model)

    def job_label(self) -> str:
        if getattr(self, "_map_queue", None) is not None:
            return f"maps of '{self._name}'"
        views = f" view {self._view.index + 1}" if self._view is not None else ""
        return f"projection '{self.prompt.strip()[:40]}'{views}"

    def modal(self, context: bpy.types.Context, event: bpy.types.Event) -> set[str]:
        """As every backend job, except that undo and redo are held while the chain runs: they
        would take back the views and UV maps the run still works with."""
        if _is_undo(event):
            return {"RUNNING_MODAL"}
        return BackendJobOperator.modal(self, context, event)  # (also for stand-ins in tests)

    # ------------------------------------------------------------------ the result

    def apply_result(self, context: bpy.types.Context, result) -> str:
        made = []

        def put_maps(projected: projected_material.Projected) -> None:
            for number, material in enumerate(projected.materials.values()):
                if self._map_results:
                    made.append(maps.applied_from_result(context, [material], self._map_results[number],
                                                         maps.options(self)))
                elif self._roles:
                    made.append(maps.classic_maps(context, [material], self._roles, "off",
                                                  maps.options(self)))

        try:
            projected = projected_material.apply_projection(
                self._files, self._uv_maps, self._name, self._records(), self._parameters(),
                preferences.image_storage(), then=put_maps)
        except BaseException:
            self._discard()
            raise
        finally:
            for maps_result in self._map_results:
                session.release(maps_result.id)
            picture_file.release(self._folder)
        self._applied = True
        for material, applied in zip(projected.materials.values(), made, strict=False):
            material_maps.record_history(context.scene, material, applied)
        if self._warning:
            self.report({"WARNING"}, self._warning)
        unseen = max(unseen for _pixels, unseen in self._textures.values())
        names = ", ".join(repr(m.name) for m in projected.materials.values())
        message = (f"Material {names} from {self._count} views, {unseen:.1%} of texels unseen (filled); "
                   f"views in collection {self._run.collection_name!r}")
        if made:
            message += f"; {maps.describe(made[0])}"
        return message

    def _records(self) -> dict[str, dict]:
        """Each mesh's provenance: the last view's record with the projection's own settings."""
        records = {}
        for name, (_pixels, unseen) in self._textures.items():
            record = dict(self._record)
            record["parameters"] = {**record.get("parameters", {}), "views": self._count,
                                    "view_size": self.view_size, "texture_size": self.texture_size,
                                    "uv_map": self._uv_maps[name], "unseen_share": round(unseen, 4),
                                    "views_collection": self._run.collection_name}
            records[name] = record
        return records

    def _parameters(self) -> apply_texture.TextureParameters:
        f = self._fields
        return apply_texture.TextureParameters(
            prompt=self.prompt.strip(), negative_prompt=self.negative_prompt.strip(),
            width=self.texture_size, height=self.texture_size, seed=f["seed"], seamless="OFF",
            style=f["style"], model=f["model"])

    # ------------------------------------------------------------------ ending without a result

    def release_request(self, context: bpy.types.Context) -> None:
        """A chain that ended without a result (an error, Esc, a refusal) leaves nothing behind:
        the views, their cameras and collection, the new UV maps and the work files go."""
        job = self._job
        if not self._applied and (job is None or not job.done or job.error is not None):
            for maps_result in getattr(self, "_map_results", ()):
                session.release(maps_result.id)
            self._discard()

    def _discard(self) -> None:
        if self._run is not None:
            self._run.discard()
            self._run = None
        apply_texture.roll_back(getattr(self, "_undo", []), [])
        self._undo = []
        picture_file.release(getattr(self, "_folder", None))


classes = (ATELIER_OT_project_texture,)
register, unregister = bpy.utils.register_classes_factory(classes)
