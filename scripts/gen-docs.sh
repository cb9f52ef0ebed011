#!/usr/bin/env bash
# Regenerates the configuration reference in docs/dataplane.md from the
# program itself (shadowtap-dataplane --config-help=md), so the document and
# the code cannot disagree; tests/integration/test_config.py checks it.
#
#   scripts/gen-docs.sh [BUILD_DIR]      default: build
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
case "${1:-}" in
-h|--help) sed -n '2,6s/^# \{0,1\}//p' "$0"; exit 0 ;;
esac
build=${1:-$here/build}
ref=$("$build/dataplane/shadowtap-dataplane" --config-help=md)
python3 - "$here/docs/dataplane.md" "$ref" <<'PY'
import re, sys
path, ref = sys.argv[1], sys.argv[2]
s = open(path).read()
begin = s.index("<!-- BEGIN config-help")
begin = s.index("\n", begin) + 1
end = s.index("<!-- END config-help -->")
open(path, "w").write(s[:begin] + ref.rstrip("\n") + "\n" + s[end:])
PY
echo "docs/dataplane.md: configuration reference regenerated"
