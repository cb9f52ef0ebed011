#!/bin/sh
# Interop test against hdr-histogram-js, both directions:
#   JS -> C: hdr-histogram-js encodes value sets; hist_tool decodes them and
#            must compute the same stats;
#   C -> JS: hist_tool encodes the same value sets; hdr-histogram-js decodes
#            them, must compute the same stats and hold the very bucket
#            counts it records itself from those values.
# Usage: hdr_js.sh BUILD_DIR  (hist_tool is BUILD_DIR/tests/interop/hist_tool)
# Exits 77 (meson's "skipped") when node or the npm package is missing.
set -eu

here=$(cd "$(dirname "$0")" && pwd)
build=${1:?usage: hdr_js.sh BUILD_DIR}
tool="$build/tests/interop/hist_tool"

if ! command -v node >/dev/null 2>&1; then
	echo "SKIP: node not found; install Node.js to run the hdr-histogram-js interop test"
	exit 77
fi
if [ ! -d "$here/node_modules/hdr-histogram-js" ]; then
	echo "SKIP: $here/node_modules/hdr-histogram-js missing; run 'npm ci' in tests/interop"
	exit 77
fi
if [ ! -x "$tool" ]; then
	echo "FAIL: $tool not built"
	exit 1
fi

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

echo "== hdr-histogram-js encodes, shadowtap decodes"
node "$here/hdr_vectors.js" gen >"$tmp/js.json"
"$tool" check <"$tmp/js.json"

echo "== shadowtap encodes, hdr-histogram-js decodes"
node "$here/hdr_vectors.js" specs >"$tmp/specs.txt"
"$tool" gen <"$tmp/specs.txt" >"$tmp/c.json"
node "$here/hdr_vectors.js" check <"$tmp/c.json"
