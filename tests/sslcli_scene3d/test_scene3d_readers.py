"""Readers (scene3d.md §3.2) on the real files: acceptance check 9, plus PLY/NPY/RGB-D rules."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from sslcli_scene3d.dataset import example_data
from sslcli_scene3d.readers import read_points
from sslcli_scene3d.readers.las import crs_units
from sslcli_scene3d.readers.rgbd import (
    back_project,
    project,
    read_depth,
    resize_depth,
    resize_intrinsics,
)

from sslcli.errors import InputError, ProblemsError

DATA = Path(__file__).parents[1] / "data" / "scene3d"
AUTZEN = example_data() / "autzen_trim.laz"
RGBD = DATA / "open3d_rgbd"


@pytest.fixture(scope="module")
def autzen():
    return read_points(AUTZEN)


def test_autzen_points_extent_classes_and_colour(autzen) -> None:
    assert len(autzen) == 110_000
    assert autzen.coord.dtype == np.float32 and autzen.origin.dtype == np.float64
    extent = autzen.coord.max(axis=0) - autzen.coord.min(axis=0)
    np.testing.assert_allclose(extent, [358.9, 171.5, 34.8], atol=0.1)
    assert autzen.class_names == ["unclassified", "ground"]
    assert np.bincount(autzen.arrays["segment"]).tolist() == [83_893, 26_107]
    color = autzen.arrays["color"]
    assert color.dtype == np.uint8 and color.max() == 236  # 8-bit values kept, not ÷257
    assert autzen.meta["units"] == "ft" and autzen.meta["units_source"] == "GeoTIFF 3076=9002"
    assert autzen.arrays["return_number"].max() == 4
    assert autzen.arrays["intensity"].dtype == np.float32


def test_autzen_origin_is_subtracted_in_float64(autzen) -> None:
    import laspy

    raw = laspy.read(str(AUTZEN))
    exact = np.asarray(raw.x, dtype=np.float64) * 0.3048
    got = autzen.coord[:, 0].astype(np.float64) + autzen.origin[0]
    assert np.abs(got - exact).max() < 1e-4  # casting before subtracting errs by ~1 cm


def test_wkt_unit_is_used_without_geotiff_keys() -> None:
    from types import SimpleNamespace

    wkt = 'PROJCS["x",UNIT["metre",1],UNIT["US survey foot",0.3048006096012192]]'
    header = SimpleNamespace(vlrs=[SimpleNamespace(string=wkt)], evlrs=None)
    source, factor = crs_units(header)
    assert factor == pytest.approx(1200 / 3937) and source.startswith("WKT")


def test_simple_las_without_units_is_refused_naming_the_file() -> None:
    with pytest.raises(InputError) as info:
        read_points(DATA / "simple.las")
    assert str(info.value) == (
        f"{DATA / 'simple.las'}: units: expected m, ft or us-ft from the file's CRS or "
        "--units, got no CRS (GeoTIFF keys or WKT); pass --units m|ft|us-ft")
    cloud = read_points(DATA / "simple.las", units="us-ft")
    assert len(cloud) == 1065 and cloud.meta["units_source"] == "--units"
    metres = read_points(DATA / "simple.las", units="m")
    ratio = np.ptp(cloud.absolute()[:, 0]) / np.ptp(metres.absolute()[:, 0])
    assert ratio == pytest.approx(1200 / 3937)


def test_frag_115_ply_has_unit_normals_and_uint8_colour() -> None:
    cloud = read_points(DATA / "frag_115.ply")
    assert len(cloud) == 64_365
    np.testing.assert_allclose(np.linalg.norm(cloud.arrays["normal"], axis=1), 1, atol=1e-6)
    assert cloud.arrays["color"].dtype == np.uint8
    np.testing.assert_allclose(cloud.coord.max(0) - cloud.coord.min(0), [1.73, 1.90, 1.04],
                               atol=0.01)


def test_ply_float_colours_are_scaled_and_faces_ignored(tmp_path: Path) -> None:
    from plyfile import PlyData, PlyElement

    vertex = np.array([(0, 0, 0, 1.0, 0.5, 0.0), (1, 0, 0, 0.2, 0.0, 1.0), (0, 1, 0, 0, 0, 0)],
                      dtype=[("x", "f4"), ("y", "f4"), ("z", "f4"), ("r", "f4"), ("g", "f4"),
                             ("b", "f4")])
    face = np.array([([0, 1, 2],)], dtype=[("vertex_indices", "i4", (3,))])
    elements = [PlyElement.describe(vertex, "vertex"), PlyElement.describe(face, "face")]
    PlyData(elements, text=True).write(str(tmp_path / "t.ply"))
    cloud = read_points(tmp_path / "t.ply")
    assert cloud.arrays["color"].tolist() == [[255, 128, 0], [51, 0, 255], [0, 0, 0]]
    assert len(cloud) == 3


def test_npy_columns_and_npz_array_problems(tmp_path: Path) -> None:
    table = np.c_[np.arange(12.0).reshape(4, 3), np.full((4, 3), 0.5), [0, 1, 1, 0]]
    np.save(tmp_path / "t.npy", table)
    cloud = read_points(tmp_path / "t.npy", columns="x,y,z,r,g,b,label")
    assert cloud.arrays["color"][0].tolist() == [128, 128, 128]
    assert cloud.arrays["segment"].tolist() == [0, 1, 1, 0]
    with pytest.raises(InputError, match=r"--columns: expected 7 names"):
        read_points(tmp_path / "t.npy", columns="x,y,z")
    np.savez(tmp_path / "bad.npz", coord=np.zeros((5, 2), np.float32))
    with pytest.raises(ProblemsError) as info:
        read_points(tmp_path / "bad.npz")
    (problem,) = info.value.problems
    assert problem.format() == (f"{tmp_path / 'bad.npz'}: coord: expected float (N, 3), got "
                                "float32 (5, 2) [content.shape]")


def test_tum_depth_is_in_fifth_millimetres() -> None:
    depth = read_depth(DATA / "tum_pair" / "TUM_depth.png", "tum5000")
    valid = depth[depth > 0]
    assert valid.min() == pytest.approx(1.464, abs=1e-3)
    assert valid.max() == pytest.approx(9.331, abs=1e-3)


def _poses() -> list[np.ndarray]:
    from sslcli_scene3d.importers.open3d_rgbd import read_trajectory

    return list(read_trajectory(RGBD / "trajectory.log"))


def test_rgbd_frame0_reprojects_into_frame1_within_10mm() -> None:
    from sslcli_scene3d.importers.open3d_rgbd import read_open3d_intrinsics

    w, h, k = read_open3d_intrinsics(RGBD / "camera_primesense.json")
    assert (w, h) == (640, 480) and k[0, 2] == 319.5 and k[1, 2] == 239.5  # column-major
    poses = _poses()
    d0, d1 = read_depth(RGBD / "depth" / "00000.png"), read_depth(RGBD / "depth" / "00001.png")
    world, _ = back_project(d0, k, poses[0])
    uv, z = project(world, k, poses[1])
    u, v = np.rint(uv[:, 0]).astype(int), np.rint(uv[:, 1]).astype(int)
    inside = (u >= 0) & (u < w) & (v >= 0) & (v < h) & (z > 0)
    seen = d1[v[inside], u[inside]]
    delta = np.abs(seen[seen > 0] - z[inside][seen > 0])
    assert np.median(delta) <= 0.010  # 5.1 mm measured


def test_resize_rule_maps_pixel_centres() -> None:
    k = np.array([[525.0, 0, 319.5], [0, 525.0, 239.5], [0, 0, 1]])
    small = resize_intrinsics(k, (640, 480), (160, 120))
    np.testing.assert_allclose(small, [[131.25, 0, 79.5], [0, 131.25, 59.5], [0, 0, 1]])
    depth = np.arange(16, dtype=np.float32).reshape(4, 4)
    assert resize_depth(depth, (2, 2)).tolist() == [[5, 7], [13, 15]]  # floor((c'+.5)·2)
