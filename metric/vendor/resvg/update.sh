#!/usr/bin/env bash
# Copies resvg's WebAssembly binary out of the npm package deno.json pins (@resvg/resvg-wasm),
# so metric/dashboard/png.ts can read it with --allow-read of this folder instead of Deno's whole cache.
# Run after changing the pin in deno.json; metric/dashboard/png_test.ts fails while resvg.version differs.
#
#   metric/vendor/resvg/update.sh
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/../../.." && pwd)"
spec="$(sed -n 's/.*"@resvg\/resvg-wasm": *"\(npm:[^"]*\)".*/\1/p' "$root/deno.json")"
[[ -n $spec ]] || { echo "update.sh: deno.json does not import @resvg/resvg-wasm" >&2; exit 1; }
version="${spec##*@}"
cd "$root"
dir="$(deno info --json "$spec" | sed -n 's/.*"localPath": *"\([^"]*resvg-wasm[^"]*\)".*/\1/p' | head -n1)"
[[ -f $dir/index_bg.wasm ]] || { echo "update.sh: no index_bg.wasm in '$dir'" >&2; exit 1; }
cp "$dir/index_bg.wasm" "$here/index_bg.wasm"
echo "$version" >"$here/resvg.version"
echo "vendored index_bg.wasm of @resvg/resvg-wasm@$version into $here"
