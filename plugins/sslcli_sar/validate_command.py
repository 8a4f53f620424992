"""``sslcli sar validate PATH…|-``: the core ``validate`` with the SAR content options.

``--full-read`` decodes every raster whole (the default reads headers, XML and a ≤ 512²
window, §3.4), ``--max-nodata`` moves the ``content.nodata`` threshold (default 5 %;
quicklooks have about 1 %). Same report and exit codes as ``sslcli validate --modality sar``.
"""

from __future__ import annotations

from dataclasses import replace
from functools import partial

import click

from sslcli.inputs import check_inputs, echo_validation, expand_paths
from sslcli_sar.commands import CONTEXT, sar_group
from sslcli_sar.modality import MAX_NODATA, validate


@sar_group.command("validate", context_settings=CONTEXT)
@click.argument("paths", nargs=-1, required=True)
@click.option("--full-read", is_flag=True,
              help="Decode whole rasters (default: headers, XML and a ≤ 512² window).")
@click.option("--max-nodata", type=click.FloatRange(0, 1), default=MAX_NODATA,
              show_default=True, help="Largest accepted share of nodata/zero pixels.")
@click.option("--json", "as_json", is_flag=True,
              help="One JSON object per problem on stdout instead of lines on stderr.")
@click.option("--strict", is_flag=True, help="Warnings count as errors (exit 2).")
@click.pass_context
def validate_command(ctx: click.Context, paths: tuple[str, ...], full_read: bool,
                     max_nodata: float, as_json: bool, strict: bool) -> None:
    """Check SAR inputs (manifests, SAFE products, rasters) with content options."""
    from sslcli_sar import sslcli_modalities

    (sar,) = sslcli_modalities()
    with_options = replace(sar, validate=partial(validate, full_read=full_read,
                                                 max_nodata=max_nodata))
    items = expand_paths(paths)
    if echo_validation(check_inputs(with_options, items, strict), len(items), as_json, strict):
        ctx.exit(2)
