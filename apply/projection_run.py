"""One projection from start to end: views are placed, each view's request is prepared, each
picture that comes back is baked into the meshes' textures, and the textures are finished.

The operator drives it one backend round trip per view::

    run = ProjectionRun(context, objects, name=..., views=4, view_size=512, texture_size=1024,
                        uv_maps={...}, work_dir=...)
    job = run.next_view()          # view 1: depth control image only
    run.accept(job, picture)       # the backend's picture for that view
    job = run.next_view()          # view 2: + the texture so far seen from it and what is unpainted
    ...                            # until next_view() returns None
    textures = run.finish()        # object name -> (RGBA texture, unseen share)

``discard()`` (cancel, failure) takes away everything the run added: cameras, collection, view
images and the files it wrote. Nothing else in the scene is changed at any point.
"""

from __future__ import annotations

import dataclasses
import os
from dataclasses import dataclass
from pathlib import Path

import bpy
import numpy as np

from ..core import limits, projection
from . import project_bake, project_render, project_views
from .map_images import display_rgb, write_png

BACKGROUND_GREY = 0.5  # of the known picture where no subject is (the mask leaves it alone)


@dataclass
class ViewJob:
    """What one backend request needs; the files are written by the run."""

    index: int  # 0-based view number
    camera_name: str
    control_image: Path  # 8-bit greyscale PNG, normalised inverse depth, view_size square
    image: Path | None  # None for the first view; else RGB PNG of the texture so far from this camera
    mask: Path | None  # None for the first view; else L PNG, 255 = not painted yet (never empty)


class ProjectionRun:
    """Paint ``objects`` (meshes seen together as one subject) from ``views`` cameras into one
    ``texture_size`` square texture each, on the UV map ``uv_maps[object name]``.

    ``views == 1`` projects from the scene camera (else the 3D viewport); more views are placed
    around the subject's bounding sphere. Meshes are taken as rendered (modifiers applied).
    Raises ValueError, saying what to change, on bad input; then nothing has been added."""

    def __init__(self, context, objects: list[bpy.types.Object], *, name: str, views: int,
                 view_size: int, texture_size: int, uv_maps: dict[str, str], work_dir: Path,
                 storage: str = "PACK"):
        _check(objects, views, view_size, texture_size, uv_maps)
        self._name, self._storage = name, storage
        self._view_size, self._texture_size = view_size, texture_size
        self._work_dir = Path(work_dir)
        self._files: list[Path] = []
        self._made_work_dir = False
        self._created: list = []
        self._meshes = project_render.rendered_geometry(context, objects, uv_maps)
        points = np.concatenate([mesh.corners.reshape(-1, 3) for mesh in self._meshes])
        center, radius = projection.bounding_sphere(points)
        if views == 1:
            self._cameras = [project_views.scene_view(context, view_size)]
        else:
            placed = [projection.ViewCamera(matrix, view_size)
                      for matrix in projection.camera_matrices(center, radius, views)]
            clip_start, clip_end = _clip_range(placed, center, radius)
            self._cameras = [dataclasses.replace(camera, clip_start=clip_start, clip_end=clip_end)
                             for camera in placed]
        try:
            self._collection, self._camera_objects = project_views.add_view_cameras(
                context, name, self._cameras, self._created)
        except Exception:
            project_views.remove_created(self._created)
            raise
        self._passes: dict[int, project_render.ViewPasses] = {}
        self._surfaces: list[project_bake.TexelSurface] | None = None
        self._sums: list[np.ndarray] = []
        self._weights: list[np.ndarray] = []
        self._painted: list[np.ndarray] = []
        self._accepted = 0  # pictures baked so far
        self._next = 0
        self._pending: ViewJob | None = None

    @property
    def collection_name(self) -> str:
        """The hidden collection holding the view cameras."""
        return self._collection.name

    def next_view(self) -> ViewJob | None:
        """The request of the next view with something left to paint (views that would paint
        nothing new are skipped), or None when every view is done. Until its picture is
        accepted, the same job is returned again."""
        if self._pending is not None:
            return self._pending
        while self._next < len(self._cameras):
            index = self._next
            self._next += 1
            self._pending = self._prepare(index)
            if self._pending is not None:
                return self._pending
        return None

    def accept(self, job: ViewJob, picture: Path) -> None:
        """Bake the backend's ``picture`` (a view_size square PNG) for ``job`` into the textures
        and keep it as the view's Image datablock."""
        if self._pending is None or job.index != self._pending.index:
            raise ValueError(f"view {job.index + 1} is not the view waiting for its picture")
        camera_object = self._camera_objects[job.index]
        image = project_views.store_view_image(self._name, camera_object, picture, self._created,
                                                 self._storage)
        if tuple(image.size) != (self._view_size, self._view_size):
            size = tuple(image.size)
            project_views.remove_created([self._created.pop()])
            raise ValueError(f"the picture for view {job.index + 1} is {size[0]}x{size[1]} pixels; "
                             f"it must be {self._view_size}x{self._view_size}")
        colours = display_rgb(image)
        camera, passes = self._cameras[job.index], self._passes[job.index]
        for k, surface in enumerate(self._texel_surfaces()):
            weight, colour = project_bake.project_picture(surface, camera, passes, colours)
            self._sums[k] += weight[:, None] * colour
            self._weights[k] += weight
            self._painted[k] |= weight >= projection.PAINTED_WEIGHT
        self._accepted += 1
        self._pending = None

    def finish(self) -> dict[str, tuple[np.ndarray, float]]:
        """Object name -> (texture, unseen share): the texture is float32 size x size x 4 RGBA,
        top row first, sRGB values as in the pictures, alpha 1; the share (0..1) is of the
        texels inside the UV islands that no view saw, filled from their neighbours."""
        size = self._texture_size
        results = {}
        for k, (mesh, surface) in enumerate(zip(self._meshes, self._texel_surfaces(), strict=True)):
            colour, known = self._texture_so_far(k)
            texture = np.ones((size, size, 4), dtype=np.float32)
            texture[..., :3] = np.clip(colour, 0, 1)
            seen = known.ravel()[surface.texels]
            results[mesh.name] = (texture, float(1 - seen.mean()) if len(seen) else 0.0)
        return results

    def discard(self) -> None:
        """Take away everything the run added: cameras, collection, view images, work files."""
        project_views.remove_created(self._created)
        for path in self._files:
            path.unlink(missing_ok=True)
        self._files.clear()
        if self._made_work_dir:
            try:
                os.rmdir(self._work_dir)
            except OSError:  # something else was put there: it is not ours to remove
                pass
        self._pending = None
        self._next = len(self._cameras)

    # -- the steps ------------------------------------------------------------------------------

    def _prepare(self, index: int) -> ViewJob | None:
        """The job of view ``index``: its depth picture, and after the first view the texture so
        far seen from it with the mask of what is unpainted; None when the view sees nothing of
        the subject or nothing unpainted."""
        passes = project_render.view_passes(self._cameras[index], self._meshes)
        self._passes[index] = passes
        if not (passes.object_index >= 0).any():  # the subject is out of this view's sight
            return None
        camera_name = self._camera_objects[index].name
        control = project_render.write_control_image(passes.depth, self._file(f"view-{index + 1}-depth.png"))
        if not self._accepted:
            return ViewJob(index, camera_name, control, None, None)
        picture, unpainted = self._known_picture(passes)
        if not unpainted.any():
            return None
        image = self._file(f"view-{index + 1}-known.png")
        write_png(picture, image, "Non-Color")  # display values, written as they are
        mask = self._file(f"view-{index + 1}-mask.png")
        write_png(unpainted.astype(np.float32), mask, "Non-Color")
        return ViewJob(index, camera_name, control, image, mask)

    def _known_picture(self, passes: project_render.ViewPasses) -> tuple[np.ndarray, np.ndarray]:
        """The texture so far as the view sees it (H x W x 3) and where it is unpainted (H x W)."""
        size = self._texture_size
        picture = np.full(passes.depth.shape + (3,), BACKGROUND_GREY, dtype=np.float32)
        unpainted = np.zeros(passes.depth.shape, dtype=bool)
        for k, surface in enumerate(self._texel_surfaces()):
            here = passes.object_index == k
            if not here.any():
                continue
            colour, known = self._blended(k)
            painted = np.zeros(size * size, dtype=bool)
            painted[surface.texels] = self._painted[k]
            # Texels outside the islands take their neighbours' state: no false seams at UV cuts.
            painted = projection.spread_outside(painted.reshape(size, size), surface.covered)
            x, y = projection.uv_to_texel(passes.uv[here], size)
            # Known texels only, renormalised: no fill needed, no dark fringe at the unknown.
            sampled = projection.bilinear(np.concatenate([colour, known[..., None]], axis=-1), x, y)
            weight = sampled[:, 3:]
            picture[here] = np.where(weight > 0, sampled[:, :3] / np.maximum(weight, 1e-12), BACKGROUND_GREY)
            unpainted[here] = ~painted[np.clip(y.astype(np.int64), 0, size - 1),
                                       np.clip(x.astype(np.int64), 0, size - 1)]
        return picture, unpainted

    def _texture_so_far(self, k: int) -> tuple[np.ndarray, np.ndarray]:
        """Object ``k``'s blended texture (size x size x 3, unseen texels filled) and where any
        view has seen it (size x size bool)."""
        colour, known = self._blended(k)
        return projection.fill_unseen(colour, known), known

    def _blended(self, k: int) -> tuple[np.ndarray, np.ndarray]:
        """Object ``k``'s blended texture (size x size x 3, 0 where unseen) and where any view
        has seen it (size x size bool)."""
        size = self._texture_size
        surface = self._texel_surfaces()[k]
        seen = self._weights[k] > 0
        colour = np.zeros((size * size, 3), dtype=np.float32)
        colour[surface.texels[seen]] = self._sums[k][seen] / self._weights[k][seen, None]
        known = np.zeros(size * size, dtype=bool)
        known[surface.texels[seen]] = True
        return colour.reshape(size, size, 3), known.reshape(size, size)

    def _texel_surfaces(self) -> list[project_bake.TexelSurface]:
        if self._surfaces is None:
            self._surfaces = [project_bake.texel_surface(mesh, self._texture_size) for mesh in self._meshes]
            self._sums = [np.zeros((len(s.texels), 3), dtype=np.float64) for s in self._surfaces]
            self._weights = [np.zeros(len(s.texels), dtype=np.float64) for s in self._surfaces]
            self._painted = [np.zeros(len(s.texels), dtype=bool) for s in self._surfaces]
        return self._surfaces

    def _file(self, name: str) -> Path:
        """A path in the work folder for a file the run writes (and discard() removes)."""
        if not self._work_dir.exists():
            self._work_dir.mkdir(parents=True)
            self._made_work_dir = True
        path = self._work_dir / name
        self._files.append(path)
        return path


def _check(objects, views: int, view_size: int, texture_size: int, uv_maps: dict[str, str]) -> None:
    """Refuse, before anything is added, what cannot be projected; the message says the fix."""
    if not objects:
        raise ValueError("select at least one mesh object to paint")
    for obj in objects:
        if obj.type != "MESH":
            raise ValueError(f"{obj.name!r} is a {obj.type.lower()}, not a mesh; select meshes only")
        if obj.name not in uv_maps:
            raise ValueError(f"no UV map named for {obj.name!r}; pick the UV map to paint on")
    if not 1 <= views <= projection.MAX_VIEWS:
        raise ValueError(f"views is {views}; use 1 to {projection.MAX_VIEWS}")
    most = limits.max_size()
    if view_size % 8 or not limits.MIN_SIZE <= view_size <= most:
        raise ValueError(f"view size {view_size} must be a multiple of 8 from {limits.MIN_SIZE} to "
                         f"{most} (ATELIER_MAX_SIZE)")
    if not limits.MIN_SIZE <= texture_size <= most:
        raise ValueError(f"texture size {texture_size} must be from {limits.MIN_SIZE} to {most} "
                         "(ATELIER_MAX_SIZE)")


def _clip_range(cameras: list[projection.ViewCamera], center: np.ndarray,
                radius: float) -> tuple[float, float]:
    """Clip distances that keep the whole subject in every camera's view."""
    distances = [float(np.linalg.norm(camera.position - center)) for camera in cameras]
    start = max(1e-3, 0.5 * (min(distances) - radius))
    return start, max(start * 2, 1.5 * (max(distances) + radius))
