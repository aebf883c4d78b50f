"""Joint-set registry: structure of every set, canonical mappings, registered orders."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from skelsplat.core.errors import SkelsplatError
from skelsplat.core.skeletons import (
    CANONICAL_JOINTS,
    CANONICAL_PARENTS,
    get_joint_set,
    guess_joint_set,
    joint_set_names,
)

ALL = joint_set_names()
#: Canonical joints every body joint set must provide (the fitter's armature core).
CORE = ("pelvis", "neck", "left_hip", "left_knee", "left_ankle", "right_hip", "right_knee",
        "right_ankle", "left_shoulder", "left_elbow", "left_wrist", "right_shoulder",
        "right_elbow", "right_wrist", "head")


def test_registry_has_the_promised_sets() -> None:
    assert set(ALL) >= {"skelsplat", "body_25", "body_25b", "coco_17", "halpe_26",
                        "blazepose_33", "h36m_17", "shelf_15", "panoptic_coco19", "skel_19"}
    sizes = {n: get_joint_set(n).n for n in ALL}
    assert sizes["body_25b"] == 25 and sizes["halpe_26"] == 26
    assert sizes["blazepose_33"] == 33 and sizes["h36m_17"] == 17
    assert sizes["shelf_15"] == 15 and sizes["panoptic_coco19"] == 19 and sizes["skel_19"] == 19
    for alias, name in [("HALPE-26", "halpe_26"), ("mediapipe", "blazepose_33"),
                        ("human3.6m", "h36m_17"), ("campus", "shelf_15"),
                        ("coco19", "panoptic_coco19"), ("skel19", "skel_19")]:
        assert get_joint_set(alias).name == name


@pytest.mark.parametrize("name", ALL)
def test_joint_set_structure(name: str) -> None:
    js = get_joint_set(name)
    # pairs are symmetric by name and the flip is an involution that swaps them
    for a, b in js.pairs:
        assert a.startswith("left_") and b == "right_" + a[5:]
    perm = js.flip_permutation()
    np.testing.assert_array_equal(perm[perm], np.arange(js.n))
    for j, joint in enumerate(js.joints):
        mirrored = js.joints[perm[j]]
        if joint.startswith(("left_", "right_")):
            twin = ("right_" + joint[5:]) if joint.startswith("left_") else "left_" + joint[6:]
            assert mirrored == twin
        else:
            assert mirrored == joint
    # bones: distinct endpoints, no duplicates, every joint on at least one bone
    edges = {frozenset(b) for b in js.bones}
    assert len(edges) == len(js.bones) and all(len(e) == 2 for e in edges)
    assert {j for b in js.bones for j in b} == set(js.joints)
    # canonical mapping: rows sum to 1, canonical names in canonical order, core present
    w, names = js.canonical_weights()
    np.testing.assert_allclose(w.sum(1), 1.0)
    assert names == [c for c in CANONICAL_JOINTS if c in names]
    assert set(CORE) <= set(names), f"{name} lacks {set(CORE) - set(names)}"
    # mirroring the input mirrors the canonical output
    X = np.random.default_rng(0).normal(size=(js.n, 3))
    flipped = w @ X[perm]
    cperm = get_joint_set("skelsplat").flip_permutation()
    full = np.full((len(CANONICAL_JOINTS), 3), np.nan)
    full[[CANONICAL_JOINTS.index(c) for c in names]] = w @ X
    mirrored = full[cperm][[CANONICAL_JOINTS.index(c) for c in names]]
    np.testing.assert_allclose(flipped, mirrored, atol=1e-12)


def test_canonical_skeleton_is_a_tree_rooted_at_the_pelvis() -> None:
    roots = [j for j, p in CANONICAL_PARENTS.items() if p is None]
    assert roots == ["pelvis"]
    for j in CANONICAL_JOINTS:
        seen, k = set(), j
        while CANONICAL_PARENTS[k] is not None:
            assert k not in seen
            seen.add(k)
            k = CANONICAL_PARENTS[k]
        assert k == "pelvis"


def test_registered_orders() -> None:
    shelf = get_joint_set("shelf_15").joints
    assert shelf[0] == "right_ankle" and shelf[5] == "left_ankle" and shelf[6] == "right_wrist"
    assert shelf[11] == "left_wrist" and shelf[12:] == ("bottom_head", "head_top", "pelvis")
    assert get_joint_set("panoptic_coco19").joints[:4] == (
        "neck", "nose", "body_center", "left_shoulder")
    assert get_joint_set("halpe_26").joints[17:20] == ("head", "neck", "hip")
    assert get_joint_set("body_25b").joints[17:19] == ("upper_neck", "head_top")
    assert get_joint_set("blazepose_33").joints[31] == "left_foot_index"
    assert get_joint_set("h36m_17").joints[:4] == ("pelvis", "right_hip", "right_knee",
                                                    "right_ankle")


def test_skel19_matches_the_benchmark_body25_table() -> None:
    shelf = pytest.importorskip("skelsplat.core.bench.shelf")
    body, skel = get_joint_set("body_25"), get_joint_set("skel_19")
    for b, s in enumerate(shelf.BODY25_TO_SKEL19):
        if s >= 0:
            name = body.joints[b]
            assert skel.joints[s] == ("pelvis" if name == "mid_hip" else name)


def test_same_body_gives_the_same_canonical_limbs_in_every_set() -> None:
    """Joints with the same name are the same point: canonical limbs must agree."""
    rng = np.random.default_rng(1)
    names = sorted({j for n in ALL for j in get_joint_set(n).joints})
    where = dict(zip(names, rng.normal(size=(len(names), 3))))
    limb = [c for c in CORE if c.startswith(("left_", "right_"))]
    ref = None
    for n in ALL:
        js = get_joint_set(n)
        w, cn = js.canonical_weights()
        out = w @ np.array([where[j] for j in js.joints])
        got = np.array([out[cn.index(c)] for c in limb])
        if ref is None:
            ref = got
        np.testing.assert_allclose(got, ref, atol=1e-12, err_msg=n)


def test_panoptic_ground_truth_through_the_canonical_mapping(shared_data: Path) -> None:
    js = get_joint_set("panoptic_coco19")
    w, names = js.canonical_weights()
    folder = shared_data / "mmpose_testdata" / "panoptic" / "160906_band1" / \
        "hdPose3d_stage1_coco19"
    diffs, above = [], []
    for f in sorted(folder.glob("*.json")):
        for body in json.loads(f.read_text())["bodies"]:
            j = np.array(body["joints19"]).reshape(19, 4)
            if np.any(j[:, 3] < 0.05):
                continue
            C = dict(zip(names, w @ (j[:, :3] / 100.0)))
            thigh = [np.linalg.norm(C[f"{s}_hip"] - C[f"{s}_knee"]) for s in ("left", "right")]
            assert 0.3 < thigh[0] < 0.6 and 0.3 < thigh[1] < 0.6
            diffs.append(abs(thigh[0] - thigh[1]))
            assert max(C["head"][1], C["neck"][1]) < C["pelvis"][1]   # y down, seated people
            above.append(C["head"][1] < C["neck"][1])
    assert len(diffs) >= 20 and np.median(diffs) < 0.04 and np.mean(above) > 0.8


def test_guess_joint_set() -> None:
    assert guess_joint_set(25).name == "body_25"
    assert guess_joint_set(26).name == "halpe_26"
    assert guess_joint_set(33).name == "blazepose_33"
    assert guess_joint_set(15).name == "shelf_15"
    with pytest.raises(SkelsplatError, match="panoptic_coco19"):
        guess_joint_set(19)
