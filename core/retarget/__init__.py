"""Retargeting the canonical motion onto other armatures (bone maps, maths; no bpy)."""
