"""Where Atelier's panels live: 3D View > Sidebar > "Atelier", sections below the main panel."""


class SidebarPanel:
    """Mixed into every Atelier panel (before ``bpy.types.Panel``)."""

    bl_space_type = "VIEW_3D"
    bl_region_type = "UI"
    bl_category = "Atelier"


class SectionPanel(SidebarPanel):
    """A feature's section, folded under ``ATELIER_PT_main``."""

    bl_parent_id = "ATELIER_PT_main"
