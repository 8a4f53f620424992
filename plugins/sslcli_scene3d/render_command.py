"""``sslcli scene3d render --run RUN --data DIR --scene ID [--frames 0,4] --out DIR``
(``specs/scene3d.md`` §1, §2.2 stage 2).

Renders a gaussian2scene stage-2 run's Gaussians (from its last checkpoint, which holds the
Gaussian head) for the chosen frames at the run's render size, and writes
``<scene>_<frame>.png`` = render | target side by side. stdout: one ``scene frame psnr``
line per frame (tab-separated; PSNR in dB over the valid-depth pixels).
"""

from __future__ import annotations

from pathlib import Path

import click

CONTEXT = {"help_option_names": ["-h", "--help"], "show_default": True}


def _frames(value: str | None, valid: list[int]) -> list[int]:
    from sslcli.errors import UsageError

    if not value:
        return valid
    try:
        picked = [int(v) for v in value.split(",") if v.strip()]
    except ValueError:
        raise UsageError(f"--frames: expected comma-separated frame numbers, got {value!r}"
                         ) from None
    bad = [f for f in picked if f not in valid]
    if bad:
        raise UsageError(f"--frames: expected valid frames of the scene ({valid}), got {bad}")
    return picked


@click.command("render", context_settings=CONTEXT)
@click.option("--run", "run", required=True, type=click.Path(file_okay=False),
              help="A finished gaussian2scene stage-2 run.")
@click.option("--data", required=True, multiple=True, help="The scene3d/1 data holding the scene.")
@click.option("--scene", required=True, help="Scene id (manifest 'scene').")
@click.option("--frames", default=None, help="Comma-separated frames, e.g. 0,4 [all valid].")
@click.option("--out", required=True, type=click.Path(file_okay=False),
              help="Folder for the PNGs (created).")
@click.pass_context
def render_cmd(ctx: click.Context, run: str, data: tuple[str, ...], scene: str,
               frames: str | None, out: str) -> None:
    """Render a stage-2 run's Gaussians beside the target frames; PSNR per frame on stdout."""
    import numpy as np
    import torch
    from PIL import Image

    from sslcli.cli import plugin_manager
    from sslcli.errors import UsageError
    from sslcli.eval.extract import load_run_method
    from sslcli_scene3d.g2s.frames import stage2_sample
    from sslcli_scene3d.g2s.stage2 import psnr

    registry = plugin_manager(ctx).registry
    cfg, modality, method = load_run_method(run, registry, checkpoint="last")
    if cfg.get("method") != "gaussian2scene" or getattr(method, "stage", 1) != 2:
        raise UsageError(f"--run {run}: expected a gaussian2scene stage-2 run, got "
                         f"{cfg.get('method')} stage {cfg.get('params', {}).get('stage')}")
    dataset = modality.open([Path(p) for p in data], labels=False, skip_bad=False)
    ids = dataset.ids()
    if scene not in ids:
        raise UsageError(f"--scene: expected one of {', '.join(ids[:10])}, got {scene!r}")
    item = dataset[ids.index(scene)]
    if item.get("frames") is None or not item["frames"].valid():
        raise UsageError(f"--scene {scene}: the scene has no posed frames to render")
    chosen = _frames(frames, item["frames"].valid())
    folder = Path(out)
    folder.mkdir(parents=True, exist_ok=True)
    from sslcli.train.data import collate

    for f in chosen:
        sample = stage2_sample(item, method.params, None, view_frames=[f])
        batch = collate([{k: torch.as_tensor(np.asarray(v)) for k, v in sample.items()}])
        with torch.no_grad():
            (g,), _ = method.model.gaussians(batch)
            from sslcli_scene3d.render.select import render

            h, w = batch["targets"].shape[-2:]
            image = render(g, batch["viewmats"][0], batch["Ks"][0], w, h,
                           backend=method.backend).rgb.permute(0, 3, 1, 2)[0]
        target, valid = batch["targets"][0, 0], batch["valid"][0, 0]
        value = float(psnr(image, target, valid))
        pair = torch.cat([image.clamp(0, 1), target], dim=2).permute(1, 2, 0).numpy()
        Image.fromarray((pair * 255 + 0.5).astype(np.uint8)).save(folder / f"{scene}_{f}.png")
        click.echo(f"{scene}\t{f}\t{value:.2f}")
