"""Regenerate the embedded examples from the shared real data (``specs/scene3d.md`` §6).

    python plugins/sslcli_scene3d/example/make_example.py /path/to/shared/data/scene3d

* ``autzen/``: ``autzen_trim.laz`` (laspy, BSD-2) copied in, plus ``sslcli scene3d import
  --tile-size 90 --split-by x:0.5 --voxel-size-hint 0.5 --point-format laz``: 8 LAZ tiles
  in international feet (``units: ft``), west ``train`` / east ``test``.
* ``livingroom/``: the 5-frame ICL-NUIM sequence (CC BY 3.0) imported with the
  ``open3d-rgbd`` layout at 160×120, with its fused cloud (deduplicated at 1 cm).
"""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
AUTZEN_SOURCE = ("laspy/laspy tests/data/autzen_trim.laz (Autzen Stadium, Eugene, Oregon; "
                 "airborne lidar)")
LIVINGROOM_SOURCE = ("ICL-NUIM living room (Handa et al., ICRA 2014) via Augmented ICL-NUIM / "
                     "Open3D test data, frames 0-4")
AUTZEN_LICENSE = """autzen/: lidar sample from laspy/laspy (BSD-2-Clause)

Source: laspy/laspy, commit fbc5b375f9dad6bae499a81ca436bee361ecf047, tests/data/autzen_trim.laz
(byte-identical copy in autzen_trim.laz; scenes/*/points.laz are 8 LAZ subsets of it written
by `sslcli scene3d import`, same header and CRS records). Airborne lidar around Autzen Stadium,
Eugene, Oregon; 110,000 points, international feet (NAD83(HARN) Oregon Lambert, EPSG:2994).
Licence: BSD-2-Clause, (c) 2012 Grant Brown, (c) 2012 Howard Butler, (c) 2020 Thomas Montaigu.
The full text is in LICENSE.laspy.txt and must travel with these files.
Attribution: "Lidar samples from laspy/laspy (BSD-2-Clause)".
"""
LIVINGROOM_LICENSE = """livingroom/: synthetic RGB-D frames from ICL-NUIM (CC BY 3.0)

Source: isl-org/Open3D commit ed30e3b61fbe031e106fa64030bec3f698b316b4,
examples/test_data/RGBD/ (frames 00000-00004, trajectory.log) and camera_primesense.json.
The frames are the Augmented ICL-NUIM living room (Choi, Zhou, Koltun, "Robust
Reconstruction of Indoor Scenes", CVPR 2015), rendered from the ICL-NUIM living-room model
(Handa, Whelan, McDonald, Davison, "A Benchmark for RGB-D Visual Odometry, 3D Reconstruction
and SLAM", ICRA 2014). ICL-NUIM is released under CC BY 3.0
(https://creativecommons.org/licenses/by/3.0/). The images are rendered, not captured.
Changes: resized from 640x480 to 160x120 (colour area-averaged, depth nearest pixel) and
fused into scenes/livingroom/points.npz by `sslcli scene3d import --layout open3d-rgbd`.
The Open3D repository licence (MIT) is in LICENSE.Open3D.txt.
"""


def _import(args: list[str]) -> None:
    from sslcli_scene3d.commands import scene3d_group

    scene3d_group.main(["import", *args], standalone_mode=False)


def main(shared: Path) -> None:
    """Write ``autzen/`` and ``livingroom/`` beside this script from ``shared``."""
    autzen = HERE / "autzen"
    _import([str(shared / "autzen_trim.laz"), "--out", str(autzen), "--overwrite",
             "--name", "autzen", "--tile-size", "90", "--split-by", "x:0.5",
             "--voxel-size-hint", "0.5", "--point-format", "laz", "--license", "BSD-2-Clause",
             "--source", AUTZEN_SOURCE])
    shutil.copy(shared / "autzen_trim.laz", autzen / "autzen_trim.laz")
    shutil.copy(shared / "LICENSE.laspy.txt", autzen / "LICENSE.laspy.txt")
    (autzen / "LICENSE.txt").write_text(AUTZEN_LICENSE, encoding="utf-8")
    living = HERE / "livingroom"
    _import([str(shared / "open3d" / "RGBD"), "--out", str(living), "--overwrite",
             "--layout", "open3d-rgbd", "--name", "livingroom", "--intrinsics",
             str(shared / "open3d" / "camera_primesense.json"), "--voxel-size-hint", "0.02",
             "--license", "CC-BY-3.0",
             "--source", LIVINGROOM_SOURCE])
    shutil.copy(shared / "open3d" / "LICENSE.Open3D.txt", living / "LICENSE.Open3D.txt")
    (living / "LICENSE.txt").write_text(LIVINGROOM_LICENSE, encoding="utf-8")


if __name__ == "__main__":
    main(Path(sys.argv[1]))
