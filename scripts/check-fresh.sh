#!/usr/bin/env bash
# A build with nothing changed must do nothing: builds the test targets (as the test run just
# did) and fails if the nook crate or its build script ran again. Catches build steps that
# rewrite watched files (the web build once regenerated web/src/lib/api/schema.d.ts on every
# run, so every `cargo run --release` rebuilt nook).
set -euo pipefail
cd "$(dirname "$0")/.."
cargo test --workspace --no-run --message-format=json 2>/dev/null | python3 -c '
import json, sys
stale = []
for line in sys.stdin:
    try:
        m = json.loads(line)
    except ValueError:
        continue
    name = m.get("package_id", "")
    if "nook" not in name.split("#")[0].split("/")[-1] and "/server" not in name:
        continue
    if m.get("reason") == "compiler-artifact" and not m.get("fresh", True):
        stale.append(m["target"]["name"] + " (" + ",".join(m["target"]["kind"]) + ")")
if stale:
    print("a second build with nothing changed rebuilt: " + ", ".join(stale), file=sys.stderr)
    sys.exit(1)
print("second build: nothing rebuilt")
'
