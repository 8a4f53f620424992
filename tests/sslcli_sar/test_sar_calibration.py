"""σ0 calibration, denoising and multilooking (sar.md §3.2; acceptance check 4) on the real IW1-VV XML."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from pathlib import Path

import numpy as np
import pytest

from sslcli_sar.annotation import Vectors, XmlError, read_annotation, read_calibration, read_noise
from sslcli_sar.calibration import interpolate, noise_power, sigma0
from sslcli_sar.multilook import box_average, factors

SAFE = (Path(__file__).parents[1] / "data" / "sar" / "safe_xml" /
        "S1B_IW_SLC__1SDV_20210401T052622_20210401T052650_026269_032297_EFA4.SAFE")
B = "s1b-iw1-slc-vv-20210401t052624-20210401t052649-026269-032297-004"
CAL = SAFE / "annotation" / "calibration" / f"calibration-{B}.xml"
NOISE = SAFE / "annotation" / "calibration" / f"noise-{B}.xml"


@pytest.fixture(scope="module")
def cal() -> Vectors:
    return read_calibration(str(CAL))


def _raw_vector(i: int) -> tuple[float, list[float], list[float]]:
    """Vector i read independently with ElementTree (the hand computation's inputs)."""
    node = ET.parse(CAL).getroot().findall("calibrationVectorList/calibrationVector")[i]
    return (float(node.findtext("line")), [float(v) for v in node.findtext("pixel").split()],
            [float(v) for v in node.findtext("sigmaNought").split()])


def test_real_calibration_xml_facts(cal: Vectors) -> None:
    assert cal.values.shape == (30, 542)
    assert cal.values.min() == pytest.approx(306.2364, abs=1e-3)
    assert cal.values.max() == pytest.approx(332.6245, abs=1e-3)
    assert cal.lines[0] == -1042  # first vector before the first line
    ann = read_annotation(str(SAFE / "annotation" / f"{B}.xml"))
    assert ann["header"]["mode"] == "IW" and ann["header"]["swath"] == "IW1"
    assert (ann["image"]["numberOfLines"], ann["image"]["numberOfSamples"]) == (13509, 21632)
    assert ann["grid"]["latitude"].size == 210
    noise = read_noise(str(NOISE))
    assert noise.values.shape[0] == 10 and len(noise.extra["azimuth"]) == 1


def test_uniform_dn_gives_dn2_over_a2_at_lut_nodes(cal: Vectors) -> None:
    line, pixels, values = _raw_vector(3)
    cols = [int(pixels[k]) for k in (0, 1, 7, 100)]
    dn = np.full((1, 1), 40 + 30j, dtype=np.complex64)  # |DN|² = 2500
    for col, k in zip(cols, (0, 1, 7, 100)):
        got = sigma0(dn, cal, offset=(int(line), col))[0, 0]
        assert got == pytest.approx(2500.0 / values[k] ** 2, rel=1e-6)


def test_bilinear_between_nodes_matches_hand_computation(cal: Vectors) -> None:
    l0, p0, v0 = _raw_vector(5)
    l1, p1, v1 = _raw_vector(6)
    row = int(l0 + 0.3 * (l1 - l0))
    col = int(p0[10] + 17)
    k = 10
    a0 = v0[k] + (v0[k + 1] - v0[k]) * (col - p0[k]) / (p0[k + 1] - p0[k])
    a1 = v1[k] + (v1[k + 1] - v1[k]) * (col - p1[k]) / (p1[k + 1] - p1[k])
    a = a0 + (a1 - a0) * (row - l0) / (l1 - l0)
    dn = np.full((2, 3), 100 + 0j, dtype=np.complex64)
    got = sigma0(dn, cal, offset=(row, col))
    assert got[0, 0] == pytest.approx(1e4 / a ** 2, rel=1e-6)
    assert got.dtype == np.float32 and got.shape == (2, 3)


def test_clamped_outside_the_lut(cal: Vectors) -> None:
    last = cal.values[-1]
    got = interpolate(cal, [cal.lines[-1] + 5000], [cal.pixels[-1][-1] + 999])
    assert got[0, 0] == pytest.approx(last[-1], rel=1e-12)


def test_denoise_formula_and_floor() -> None:
    cal = Vectors(np.array([0.0, 10.0]), np.array([[0.0, 10.0]] * 2), np.array([[2.0, 2.0]] * 2))
    noise = Vectors(np.array([0.0, 10.0]), np.array([[0.0, 10.0]] * 2),
                    np.array([[1.0, 3.0], [1.0, 3.0]]),
                    {"azimuth": [{"line": np.array([0.0, 10.0]), "lut": np.array([1.0, 2.0])}]})
    dn = np.full((3, 3), 3.0 + 0j, dtype=np.complex64)  # I = 9, A² = 4
    n = noise_power(noise, (3, 3), (0, 0))
    # range LUT 1 + 0.2·col, azimuth 1 + 0.1·row
    expected = np.outer(1 + 0.1 * np.arange(3), 1 + 0.2 * np.arange(3))
    np.testing.assert_allclose(n, expected, rtol=1e-12)
    got = sigma0(dn, cal, noise=noise)
    np.testing.assert_allclose(got, (9 - expected) / 4, rtol=1e-6)
    loud = Vectors(noise.lines, noise.pixels, noise.values * 100, {"azimuth": []})
    floored = sigma0(dn, cal, noise=loud)
    np.testing.assert_allclose(floored, np.full((3, 3), 1e-6 * 9 / 4), rtol=1e-6)


def test_multilook_keeps_mean_intensity_of_constant_modulus_random_phase() -> None:
    rng = np.random.default_rng(0)
    phase = rng.uniform(0, 2 * np.pi, (400, 300))
    dn = (5.0 * np.exp(1j * phase)).astype(np.complex64)
    power = np.abs(dn) ** 2
    looks = box_average(power, 10, 6)
    assert looks.shape == (40, 50)
    np.testing.assert_allclose(looks, 25.0, rtol=1e-5)
    complex_mean = np.abs(box_average(dn.real, 10, 6) + 1j * box_average(dn.imag, 10, 6)) ** 2
    assert complex_mean.mean() < 5.0  # averaging complex values cancels phase (pitfall 4)


def test_factors_square_ground_pixels() -> None:
    # WV-like: slant 1.7 m at 23.8°, azimuth 4.1 m → 50 m: ground 4.21 m → f_r 12, f_a 12
    assert factors(1.7, 4.1, 23.8, 50.0) == (12, 12)
    assert factors(2.329562, 13.94053, 33.87494, 50.0) == (4, 12)


def test_bad_lut_is_content_xml(tmp_path: Path) -> None:
    text = CAL.read_text(encoding="utf-8")
    start = text.index("<sigmaNought")
    bad = text[:start] + text[start:].replace(">3", ">-3", 1)
    (tmp_path / "c.xml").write_text(bad, encoding="utf-8")
    with pytest.raises(XmlError) as exc:
        read_calibration(str(tmp_path / "c.xml"))
    assert exc.value.field.endswith(".sigmaNought") and "> 0" in exc.value.expected
    (tmp_path / "t.xml").write_text(text[: len(text) // 2], encoding="utf-8")
    with pytest.raises(XmlError):
        read_calibration(str(tmp_path / "t.xml"))
