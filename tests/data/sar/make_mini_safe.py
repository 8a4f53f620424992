"""Write a mini Sentinel-1 WV SLC SAFE: real manifest, generated XML, synthetic radiometry.

``make(out) -> Path`` writes ``out/S1B_WV_SLC__1SSV_20210403T083025_…_D542.SAFE`` with the
first ``n`` imagettes (WV1, WV2, …) of the real WV ``manifest.safe`` in ``safe_xml/`` (other
imagettes' entries and frames removed), and for each imagette: a generated annotation XML
(adsHeader, imageInformation, 4×4 geolocation grid), a calibration XML with a 5×5
``sigmaNought`` LUT, a noise XML (range + azimuth vectors) and a complex_int16 measurement TIFF
whose amplitude is a real WV quicklook (nearest-resampled) and whose phase is random. Seeded;
``python make_mini_safe.py OUT`` runs it. Labelled synthetic radiometry: never a real SLC.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

import numpy as np

HERE = Path(__file__).parent
REAL = HERE / "safe_xml" / "S1B_WV_SLC__1SSV_20210403T083025_20210403T084452_026300_032390_D542.SAFE"
QUICKLOOKS = HERE.parents[2] / "examples" / "sar" / "wv_quicklooks"
LINES, SAMPLES = 240, 200
SPACING = {"WV1": (1.7, 4.1, 23.8), "WV2": (1.4, 4.1, 36.5)}  # slant rg, az (m), θ_mid
LUT = 5


def _trim_manifest(text: str, keep: list[str]) -> str:
    def keep_object(m: re.Match[str]) -> str:
        return m.group(0) if any(k.replace("-", "") in m.group(0).replace("-", "")
                                 for k in keep) or "measurement" not in m.group(0) and \
            "annotation" not in m.group(0) else ""
    text = re.sub(r"\s*<dataObject ID=.*?</dataObject>", keep_object, text, flags=re.S)
    text = re.sub(r"\s*<xfdu:contentUnit unitType=\"(?:Metadata|Measurement Data) Unit\".*?"
                  r"</xfdu:contentUnit>", lambda m: m.group(0) if any(
                      k.replace("-", "") in m.group(0) for k in keep) else "", text, flags=re.S)
    frames = re.findall(r"\s*<safe:frame>.*?</safe:frame>", text, flags=re.S)
    for extra in frames[len(keep):]:
        text = text.replace(extra, "", 1)
    return text


def annotation_xml(base: str, swath: str, mode: str = "WV", lines: int = LINES,
                   samples: int = SAMPLES) -> str:
    rg, az, inc = SPACING.get(swath, (2.3, 13.9, 33.9))
    start = re.search(r"-(\d{8}t\d{6})-", base).group(1).upper()
    stamp = f"{start[:4]}-{start[4:6]}-{start[6:8]}T{start[9:11]}:{start[11:13]}:{start[13:15]}.000000"
    points = "".join(
        f"<geolocationGridPoint><line>{r}</line><pixel>{c}</pixel>"
        f"<latitude>{-10.0 + 0.05 * r / lines:.6f}</latitude>"
        f"<longitude>{-40.0 + 0.05 * c / samples:.6f}</longitude>"
        f"<incidenceAngle>{inc - 0.2 + 0.4 * c / samples:.6f}</incidenceAngle>"
        "</geolocationGridPoint>"
        for r in np.linspace(0, lines - 1, 4).astype(int)
        for c in np.linspace(0, samples - 1, 4).astype(int))
    return (f"<?xml version='1.0' encoding='UTF-8'?>\n<product><adsHeader>"
            f"<missionId>S1B</missionId><productType>SLC</productType>"
            f"<polarisation>VV</polarisation><mode>{mode}</mode><swath>{swath}</swath>"
            f"<startTime>{stamp}</startTime><stopTime>{stamp}</stopTime>"
            f"<absoluteOrbitNumber>26300</absoluteOrbitNumber>"
            f"<imageNumber>{base[-3:]}</imageNumber></adsHeader>"
            f"<imageAnnotation><imageInformation><rangePixelSpacing>{rg}</rangePixelSpacing>"
            f"<azimuthPixelSpacing>{az}</azimuthPixelSpacing>"
            f"<numberOfSamples>{samples}</numberOfSamples><numberOfLines>{lines}</numberOfLines>"
            f"<incidenceAngleMidSwath>{inc}</incidenceAngleMidSwath></imageInformation>"
            f"</imageAnnotation><geolocationGrid><geolocationGridPointList count='16'>{points}"
            f"</geolocationGridPointList></geolocationGrid></product>\n")


def lut_values(lines: int = LINES, samples: int = SAMPLES) -> tuple[np.ndarray, np.ndarray,
                                                                      np.ndarray]:
    """(lines (5,), pixels (5,), sigmaNought (5, 5)): 300 + 2·i + 5·j, first line negative."""
    rows = np.linspace(-20, lines + 20, LUT).round()
    cols = np.linspace(0, samples - 1, LUT).round()
    values = 300.0 + 2.0 * np.arange(LUT)[:, None] + 5.0 * np.arange(LUT)[None, :]
    return rows, cols, values


def calibration_xml(lines: int = LINES, samples: int = SAMPLES) -> str:
    rows, cols, values = lut_values(lines, samples)
    vec = "".join(
        f"<calibrationVector><line>{int(r)}</line><pixel count='{LUT}'>"
        f"{' '.join(str(int(c)) for c in cols)}</pixel><sigmaNought count='{LUT}'>"
        f"{' '.join(f'{v:.6e}' for v in values[i])}</sigmaNought></calibrationVector>"
        for i, r in enumerate(rows))
    return (f"<?xml version='1.0' encoding='UTF-8'?>\n<calibration><adsHeader/>"
            f"<calibrationVectorList count='{LUT}'>{vec}</calibrationVectorList></calibration>\n")


def noise_xml(lines: int = LINES, samples: int = SAMPLES) -> str:
    rows, cols, _ = lut_values(lines, samples)
    vec = "".join(
        f"<noiseRangeVector><line>{int(r)}</line><pixel count='{LUT}'>"
        f"{' '.join(str(int(c)) for c in cols)}</pixel><noiseRangeLut count='{LUT}'>"
        f"{' '.join(f'{20.0 + 5 * j:.3f}' for j in range(LUT))}</noiseRangeLut>"
        "</noiseRangeVector>" for r in rows)
    az = (f"<noiseAzimuthVector><firstAzimuthLine>0</firstAzimuthLine><firstRangeSample>0"
          f"</firstRangeSample><lastAzimuthLine>{lines - 1}</lastAzimuthLine><lastRangeSample>"
          f"{samples - 1}</lastRangeSample><line count='2'>0 {lines - 1}</line>"
          f"<noiseAzimuthLut count='2'>1.0 1.1</noiseAzimuthLut></noiseAzimuthVector>")
    return (f"<?xml version='1.0' encoding='UTF-8'?>\n<noise><adsHeader/>"
            f"<noiseRangeVectorList count='{LUT}'>{vec}</noiseRangeVectorList>"
            f"<noiseAzimuthVectorList count='1'>{az}</noiseAzimuthVectorList></noise>\n")


def write_slc(path: Path, amplitude: np.ndarray, seed: int) -> None:
    import warnings

    import rasterio

    warnings.filterwarnings("ignore", category=rasterio.errors.NotGeoreferencedWarning)
    rng = np.random.default_rng(seed)
    phase = rng.uniform(0, 2 * np.pi, amplitude.shape)
    dn = amplitude * np.exp(1j * phase)
    with rasterio.open(path, "w", driver="GTiff", height=amplitude.shape[0],
                       width=amplitude.shape[1], count=1, dtype="complex_int16") as ds:
        ds.write(dn.astype(np.complex64), 1)


def _amplitude(index: int, lines: int = LINES, samples: int = SAMPLES) -> np.ndarray:
    from PIL import Image

    pngs = sorted(QUICKLOOKS.glob("*.png"))
    with Image.open(pngs[index % len(pngs)]) as im:
        grey = np.asarray(im.resize((samples, lines), Image.NEAREST), dtype=np.float64)
    return 20.0 + 4.0 * grey  # DN amplitude, well inside int16


def make(out: Path, n: int = 2, seed: int = 0) -> Path:
    """The mini SAFE folder under ``out`` with the first ``n`` imagettes."""
    text = (REAL / "manifest.safe").read_text(encoding="utf-8")
    bases = re.findall(r'href="\./measurement/([^"]+)\.tiff"', text)[:n]
    safe = out / REAL.name
    (safe / "annotation" / "calibration").mkdir(parents=True, exist_ok=True)
    (safe / "measurement").mkdir(exist_ok=True)
    (safe / "manifest.safe").write_text(_trim_manifest(text, bases), encoding="utf-8")
    for i, base in enumerate(bases):
        swath = base.split("-")[1].upper()
        (safe / "annotation" / f"{base}.xml").write_text(annotation_xml(base, swath))
        (safe / "annotation" / "calibration" / f"calibration-{base}.xml").write_text(
            calibration_xml())
        (safe / "annotation" / "calibration" / f"noise-{base}.xml").write_text(noise_xml())
        write_slc(safe / "measurement" / f"{base}.tiff", _amplitude(i), seed + i)
    return safe


if __name__ == "__main__":
    print(make(Path(sys.argv[1] if len(sys.argv) > 1 else ".")))
