"""Atelier's built-in engine: quick drafts with no model weights, no torch and no backend.

It runs inside Blender (bpy, the standard library, numpy and coloraide) and answers in about
a second on a CPU: procedural materials from node recipes (``texture``), colour schemes from
named-colour tables and harmony rules (``palette``), and block-out templates (``ideas``).
Every result carries a provenance record whose engine is ``builtin``.
"""
