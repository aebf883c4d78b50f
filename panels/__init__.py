"""Sidebar panels (View3D > SkelSplat) and the status-bar progress: drawing only."""
