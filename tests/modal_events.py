"""Stand-ins for the events Blender hands a modal operator (timers never fire under the bpy
module, so tests call ``modal`` with these themselves)."""

from types import SimpleNamespace

TIMER = SimpleNamespace(type="TIMER", value="NOTHING", ctrl=False, oskey=False)
ESC = SimpleNamespace(type="ESC", value="PRESS", ctrl=False, oskey=False)
