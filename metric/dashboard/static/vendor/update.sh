#!/usr/bin/env bash
# Refreshes the vendored uPlot from its npm package, by name and version:
#
#   metric/dashboard/static/vendor/update.sh            # the version in uplot.version
#   metric/dashboard/static/vendor/update.sh 1.6.33     # another version; recorded in uplot.version
#
# The dashboard serves these files itself (metric/dashboard/assets.ts imports them as text), so
# the running service never reaches a CDN or the npm cache: it keeps its narrow permissions.
# `npm pack` fetches the tarball from whatever registry npm is configured for.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
version="${1:-$(tr -d '[:space:]' <"$here/uplot.version")}"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
(cd "$work" && npm pack --silent "uplot@$version" >/dev/null)
tar -xzf "$work/uplot-$version.tgz" -C "$work"
packed="$(sed -n 's/.*"version": *"\([^"]*\)".*/\1/p' "$work/package/package.json" | head -n1)"
if [[ "$packed" != "$version" ]]; then
  echo "update.sh: asked for uplot@$version, the package says $packed" >&2
  exit 1
fi
cp "$work/package/dist/uPlot.iife.min.js" "$work/package/dist/uPlot.min.css" "$here/"
cp "$work/package/LICENSE" "$here/LICENSE"
echo "$version" >"$here/uplot.version"
echo "vendored uplot@$version into $here"
