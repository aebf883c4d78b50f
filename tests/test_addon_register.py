"""Registration: classes, namespaces, status-bar hook; repeated cycles leave nothing behind."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

pytestmark = pytest.mark.bpy

OPERATORS = ("import_capture", "import_keypoints", "detect", "fit", "cancel", "report", "bake",
             "export", "refresh_dependencies", "install_dependencies", "add_python_path",
             "retarget", "retarget_fill_map", "retarget_save_map", "retarget_load_map",
             "run_action", "proxy_mesh", "export_preset",
             "calibrate_board", "refine_calibration", "suggest_offsets", "apply_offsets")


def _skelsplat_types() -> set[str]:
    import bpy

    return {name for name in dir(bpy.types) if name.startswith("SKELSPLAT_")}


def test_three_register_cycles_leave_nothing_behind(empty_scene) -> None:
    import bpy

    import skelsplat

    classes = skelsplat.blender_classes()
    before = _skelsplat_types()
    hooks = len(bpy.types.STATUSBAR_HT_header._dyn_ui_initialize())
    assert before == set()
    for _ in range(3):
        skelsplat.register()
        assert all(c.is_registered for c in classes)
        assert _skelsplat_types() <= {c.__name__ for c in classes}
        assert "SKELSPLAT_OT_fit" in _skelsplat_types()
        assert all(hasattr(bpy.ops.skelsplat, op) and getattr(bpy.ops.skelsplat, op).poll()
                   in (True, False) for op in OPERATORS)
        assert bpy.ops.skelsplat.fit.idname() == "SKELSPLAT_OT_fit"
        assert empty_scene.skelsplat.take_name == "take"
        assert bpy.data.objects.new("probe", None).skelsplat.take_name == ""
        assert len(bpy.types.STATUSBAR_HT_header._dyn_ui_initialize()) == hooks + 1
        skelsplat.unregister()
        assert _skelsplat_types() == set()
        assert not any(c.is_registered for c in classes)
        assert not hasattr(bpy.types.Scene, "skelsplat")
        assert not hasattr(bpy.types.Object, "skelsplat")
        assert len(bpy.types.STATUSBAR_HT_header._dyn_ui_initialize()) == hooks


def test_naming_follows_the_house_style() -> None:
    import skelsplat

    classes = skelsplat.blender_classes()
    prefixes = ("SKELSPLAT_OT_", "SKELSPLAT_PT_", "SKELSPLAT_PG_", "SKELSPLAT_UL_",
                "SKELSPLAT_AP_")
    assert all(c.__name__.startswith(prefixes) for c in classes)
    panels = [c for c in classes if c.__name__.startswith("SKELSPLAT_PT_")]
    assert all(p.bl_category == "SkelSplat" for p in panels)
    ops = {c.bl_idname for c in classes if c.__name__.startswith("SKELSPLAT_OT_")}
    assert {f"skelsplat.{o}" for o in OPERATORS} == ops
    undo = {c.bl_idname for c in classes if "UNDO" in getattr(c, "bl_options", ())}
    assert {"skelsplat.import_capture", "skelsplat.bake"} <= undo


class _Recorder:
    """A stand-in for ``UILayout`` that checks every drawn property and operator exists."""

    def __init__(self, log: list) -> None:
        self.log = log

    def _sub(self, *args, **kwargs):
        return self

    row = column = box = split = _sub

    def panel(self, idname, default_closed=False):
        return self, self  # header and (open) body

    def prop(self, data, name, **kwargs):
        assert name in data.bl_rna.properties, name
        self.log.append(("prop", name))

    def operator(self, idname, **kwargs):
        import bpy

        module, name = idname.split(".")
        op = getattr(getattr(bpy.ops, module), name)
        props = op.get_rna_type().properties
        self.log.append(("operator", idname))

        class Props:
            def __setattr__(self, key, value):
                assert key in props, (idname, key)

        return Props()

    def label(self, **kwargs):
        self.log.append(("label", kwargs.get("text", "")))

    def template_list(self, listtype, list_id, data, prop, active_data, active_prop, **kw):
        import bpy

        assert hasattr(bpy.types, listtype)
        assert prop in data.bl_rna.properties and active_prop in active_data.bl_rna.properties
        self.log.append(("list", prop))

    def progress(self, **kwargs):
        assert 0.0 <= kwargs["factor"] <= 1.0
        self.log.append(("progress", kwargs.get("text", "")))

    def __setattr__(self, key, value):  # alert, active, enabled ...
        object.__setattr__(self, key, value)


def test_panels_draw_only_existing_properties_and_operators(empty_scene) -> None:
    """Every panel's draw(), with a take loaded and a job running, names real RNA."""
    import bpy

    import skelsplat
    from skelsplat.addon import preferences
    from skelsplat.panels import main_panel

    skelsplat.register()
    try:
        props = empty_scene.skelsplat
        props.cameras.add().name = "cam0"
        props.warnings.add().name = "a warning"
        props.joint_errors.add().name = "pelvis"
        props.keypoints_summary = "10 frames"
        props.motion_path = "/tmp/fit.npz"
        props.last_error = "boom"
        props.job_kind, props.job_progress, props.job_message = "fit", 0.4, "chunk 2/5"
        log: list = []
        context = bpy.context
        for cls in main_panel.classes:
            if cls.__name__.startswith("SKELSPLAT_PT_"):
                panel = type("P", (), {"layout": _Recorder(log)})()
                cls.draw(panel, context)
        main_panel.draw_status_bar(type("H", (), {"layout": _Recorder(log)})(), context)
        prefs_cls = preferences.SKELSPLAT_AP_preferences
        fake_prefs = type("Prefs", (), {"layout": _Recorder(log), "bl_rna": prefs_cls.bl_rna,
                                        "dependencies": [], "python_path": ""})()
        prefs_cls.draw(fake_prefs, context)
        ops = {x[1] for x in log if x[0] == "operator"}
        assert {"skelsplat.import_capture", "skelsplat.detect", "skelsplat.import_keypoints",
                "skelsplat.cancel", "skelsplat.bake", "skelsplat.export",
                "skelsplat.install_dependencies", "skelsplat.add_python_path"} <= ops
        assert "skelsplat.fit" not in ops  # replaced by progress + Cancel while fitting
        assert ("progress", "chunk 2/5") in log
        assert ("label", "boom") in log
        assert {("list", "cameras"), ("list", "joint_errors")} <= set(log)
    finally:
        skelsplat.unregister()


def test_read_only_lists_draw_their_rows(empty_scene) -> None:
    """The sidebar's camera table and per-joint errors (``LabelRows``): one label a column."""
    import skelsplat
    from skelsplat.panels import main_panel

    skelsplat.register()
    try:
        props = empty_scene.skelsplat
        cam = props.cameras.add()
        cam.name, cam.width, cam.height, cam.focal_px, cam.offset = "cam0", 1920, 1080, 1402.6, -3
        joint = props.joint_errors.add()
        joint.name, joint.mean_px, joint.max_px = "pelvis", 2.345, 7.0
        rows = {}
        for cls, item in ((main_panel.SKELSPLAT_UL_cameras, cam),
                          (main_panel.SKELSPLAT_UL_joint_errors, joint)):
            log: list = []
            ui_list = SimpleNamespace(row_icon=cls.row_icon,
                                      columns=lambda it, cls=cls: cls.columns(None, it))
            cls.draw_item(ui_list, None, _Recorder(log), props, item, 0, props, "", 0)
            rows[item.name] = [text for _, text in log]
        assert rows["cam0"] == ["cam0", "1920x1080", "f 1403px", "no footage", "-3"]
        assert rows["pelvis"] == ["pelvis", "2.3 px", "max 7.0"]
    finally:
        skelsplat.unregister()


def test_operators_invoked_from_the_ui_take_the_panels_settings(empty_scene) -> None:
    """Detect, Fit, Bake and Export started from a button take the scene's fields of the same
    names (``SceneSettings``; headless bpy has no window to invoke from, so invoke() is
    called on a stand-in for the operator)."""
    import bpy

    import skelsplat
    from skelsplat.operators import job_ops, result_ops

    skelsplat.register()
    try:
        props = empty_scene.skelsplat
        props.backend, props.model = "onnx", "/models/pose.onnx"
        props.device, props.mode, props.smooth = "cpu", "reference", "butterworth"
        props.smooth_cutoff_hz, props.skeleton = 6.0, "off"
        props.sigma, props.ellipsoids, props.raw_empties = 3.5, False, True
        props.overwrite, props.add_leaf_bones = True, True
        expected = {
            job_ops.SKELSPLAT_OT_detect: {"backend": "onnx", "model": "/models/pose.onnx"},
            job_ops.SKELSPLAT_OT_fit: {"device": "cpu", "mode": "reference",
                                       "smooth": "butterworth", "smooth_cutoff_hz": 6.0,
                                       "skeleton": "off"},
            result_ops.SKELSPLAT_OT_bake: {"sigma": 3.5, "ellipsoids": False,
                                           "raw_empties": True},
            result_ops.SKELSPLAT_OT_export: {"overwrite": True, "add_leaf_bones": True},
        }
        for cls, values in expected.items():
            op_props = getattr(bpy.ops.skelsplat, cls.bl_idname.split(".")[1]
                               ).get_rna_type().properties
            assert set(values) <= set(op_props.keys()), cls.__name__
            stand_in = SimpleNamespace(scene_fields=cls.scene_fields,
                                       execute=lambda context: {"FINISHED"})
            assert cls.invoke(stand_in, bpy.context, None) == {"FINISHED"}
            got = {k: getattr(stand_in, k) for k in values}
            assert got == values, cls.__name__  # 3.5 is exact in float32
    finally:
        skelsplat.unregister()
