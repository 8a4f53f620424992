#!/usr/bin/env bash
# Rebuild the embedded example plugins/sslcli_wearable/example/spsw_s01-s05 (wearwin/1, 420
# windows) from ../shared/data/wearable/sp-sw-har (subjects s01-s05), 50 Hz, T 100, H 50.
set -euo pipefail
here="$(cd "$(dirname "$0")/../.." && pwd)"
src="${1:-$here/../shared/data/wearable/sp-sw-har}"
out="$here/plugins/sslcli_wearable/example/spsw_s01-s05"
python - "$src" "$out" <<'PY'
import sys
from sslcli_wearable.ingest import ingest
r = ingest(sys.argv[1], sys.argv[2], layout="sp-sw-har", fs=50.0, window=100, stride=50,
           overwrite=True)
print(r["num_windows"], "windows ->", sys.argv[2], file=sys.stderr)
# the shipped report names files relative to the source, not this machine's folders
from pathlib import Path
report = Path(sys.argv[2]) / "ingest_report.json"
text = report.read_text()
for absolute, short in ((str(Path(sys.argv[1]).resolve()), "sp-sw-har"), (sys.argv[1], "sp-sw-har"),
                        (str(Path(sys.argv[2]).resolve()), "spsw_s01-s05"), (sys.argv[2], "spsw_s01-s05")):
    text = text.replace(absolute, short)
report.write_text(text)
PY
cp "$here/plugins/sslcli_wearable/example/LICENSE.txt" "$out/LICENSE.txt"
