"""Batch section of the Atelier tab: texture every selected object at once (prompts from their
names, the Texture panel's settings), and every item of the last batch with its progress.
Scripts and pipelines call ``atelier.batch_textures`` with a CSV file and a JSON report."""

import bpy

from .sidebar import SectionPanel, draw_job_button

SHOWN_ITEMS = 12  # rows in the sidebar; the JSON report and the status line cover the rest
_LEAD = 2  # rows shown above the first item still waiting: the last ones that ended
STATUS_ICONS = {"QUEUED": "TIME", "RUNNING": "PLAY", "DONE": "CHECKMARK", "PARTIAL": "ERROR",
                "FAILED": "CANCEL", "CANCELLED": "X", "SKIPPED": "REMOVE"}


class ATELIER_PT_batch(SectionPanel, bpy.types.Panel):
    """Generate a texture for each selected object in one queue"""

    bl_idname = "ATELIER_PT_batch"
    bl_label = "Batch"
    bl_options = {"DEFAULT_CLOSED"}

    def draw(self, context: bpy.types.Context) -> None:
        layout = self.layout
        layout.label(text="Prompts from object names; size and steps from Texture")
        draw_job_button(layout, context, "atelier.batch_textures", "Texture Selected", "RENDERLAYERS",
                        builtin=False, model_kind=None)
        items = context.window_manager.atelier.batch_items
        column = layout.column(align=True)
        shown = shown_rows([item.status for item in items])
        for index in shown:
            item = items[index]
            row = column.row(align=True)
            row.label(text=item.name, icon=STATUS_ICONS.get(item.status, "DOT"))
            if item.status in ("QUEUED", "RUNNING"):
                row.progress(factor=item.progress, type="BAR", text=item.status.lower())
            else:
                row.label(text=item.message or item.status.lower())
        if len(items) > len(shown):
            column.label(text=f"and {len(items) - len(shown)} more")


def shown_rows(statuses: list[str]) -> list[int]:
    """Which items the panel lists (at most ``SHOWN_ITEMS``): while the batch runs, those around
    the first still waiting; once it has ended, those that did not succeed, else the first."""
    waiting = next((i for i, status in enumerate(statuses) if status in ("QUEUED", "RUNNING")), None)
    if waiting is not None:
        start = max(0, min(waiting - _LEAD, len(statuses) - SHOWN_ITEMS))
        return list(range(start, min(len(statuses), start + SHOWN_ITEMS)))
    troubled = [i for i, status in enumerate(statuses) if status != "DONE"]
    return (troubled or list(range(len(statuses))))[:SHOWN_ITEMS]


classes = (ATELIER_PT_batch,)
register, unregister = bpy.utils.register_classes_factory(classes)
