"""Where Atelier's panels live: 3D View > Sidebar > "Atelier", sections below the main panel;
and the pieces every section draws the same way."""

import textwrap

from .. import preferences


class SidebarPanel:
    """Mixed into every Atelier panel (before ``bpy.types.Panel``)."""

    bl_space_type = "VIEW_3D"
    bl_region_type = "UI"
    bl_category = "Atelier"


class SectionPanel(SidebarPanel):
    """A feature's section, folded under ``ATELIER_PT_main``."""

    bl_parent_id = "ATELIER_PT_main"


WRAP = 48  # characters per line of wrapped text in the sidebar (labels do not wrap)


def draw_wrapped(layout, text: str) -> None:
    """Text as labels, split at spaces so it fits the sidebar."""
    column = layout.column(align=True)
    for line in textwrap.wrap(str(text), WRAP) or [""]:
        column.label(text=line)


def draw_job_button(layout, context, operator: str, text: str, icon: str, *, builtin: bool,
                    model_kind: str | None, text_server: bool = False):
    """A feature's job button, or its progress bar and Cancel while its job runs, then its last
    error. Returns the button's operator properties to fill in (None while the job runs).

    ``builtin``: the job runs inside Blender (the button says so). Otherwise it needs the backend,
    and a backend that cannot start greys the button out with the reason and, where
    ``model_kind`` ('texture' or 'text') names a model, the built-in way round it.
    ``text_server``: a text server answers this job when one is set (no backend needed then).
    """
    state = context.window_manager.atelier
    button = None
    served = text_server and preferences.text_server_config() is not None
    problem = "" if builtin or served else preferences.backend_problem()
    if problem:
        advice = f", or use the {model_kind} model 'builtin'" if model_kind else ""
        draw_wrapped(layout.box(), problem + advice)
    if state.running and state.job_operator == operator:
        row = layout.row(align=True)
        row.progress(factor=state.progress, type="BAR", text=state.stage)
        row.operator("atelier.cancel_job", text="Cancel", icon="CANCEL")
    else:
        row = layout.row()
        row.enabled = not state.running and not problem  # one job at a time; its bar shows
        button = row.operator(operator, text=f"{text} (built-in)" if builtin else text, icon=icon)
    if state.last_error and state.last_error_operator == operator:
        box = layout.box()
        box.label(text="Last error:", icon="ERROR")
        draw_wrapped(box, state.last_error)
    return button
