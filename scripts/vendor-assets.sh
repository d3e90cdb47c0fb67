#!/usr/bin/env bash
# Vendors the dashboard's third-party browser assets from the npm registry into
# dashboard/static/vendor/<name>/ and records what was copied in dashboard/static/vendor/manifest.json.
#
# The dashboard embeds these files with go:embed and never loads anything from a CDN, so this script
# is the only place their versions change: bump a version below, run the script, review the diff,
# commit. The dashboard's tests check that every file matches the sha256 recorded in the manifest.
#
# Usage: scripts/vendor-assets.sh   (needs npm and node; works offline only with a warm npm cache)
set -euo pipefail

# name|npm package|version|file inside the package to copy|licence file inside the package
ASSETS=(
	"htmx|htmx.org|2.0.11|dist/htmx.min.js|LICENSE"
	"uplot|uplot|1.6.32|dist/uPlot.iife.min.js|LICENSE"
	"uplot|uplot|1.6.32|dist/uPlot.min.css|LICENSE"
)

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
vendor="$root/dashboard/static/vendor"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

mkdir -p "$vendor"
entries=()
for spec in "${ASSETS[@]}"; do
	IFS='|' read -r name pkg version file license <<<"$spec"
	dir="$work/$pkg@$version"
	if [[ ! -d "$dir" ]]; then
		mkdir -p "$dir"
		# npm pack fetches the exact published tarball (integrity-checked by npm) without running
		# any install scripts.
		(cd "$dir" && npm pack --silent "$pkg@$version" >/dev/null)
		tar -xzf "$dir"/*.tgz -C "$dir"
	fi
	src="$dir/package/$file"
	[[ -f "$src" ]] || { echo "vendor-assets: $pkg@$version has no $file" >&2; exit 1; }
	spdx="$(node -e 'process.stdout.write(String(require(process.argv[1]).license || ""))' "$dir/package/package.json")"
	[[ -n "$spdx" ]] || { echo "vendor-assets: $pkg@$version declares no licence" >&2; exit 1; }
	mkdir -p "$vendor/$name"
	cp "$src" "$vendor/$name/$(basename "$file")"
	cp "$dir/package/$license" "$vendor/$name/LICENSE"
	sum="$(sha256sum "$vendor/$name/$(basename "$file")" | cut -d' ' -f1)"
	lsum="$(sha256sum "$vendor/$name/LICENSE" | cut -d' ' -f1)"
	entries+=("$(printf '{"name":"%s","package":"%s","version":"%s","license":"%s","source":"%s","file":"%s","sha256":"%s","license_file":"%s","license_sha256":"%s"}' \
		"$name" "$pkg" "$version" "$spdx" "$file" "$name/$(basename "$file")" "$sum" "$name/LICENSE" "$lsum")")
done

{
	echo "["
	for i in "${!entries[@]}"; do
		sep=","
		[[ $i -eq $((${#entries[@]} - 1)) ]] && sep=""
		echo "  ${entries[$i]}$sep"
	done
	echo "]"
} >"$vendor/manifest.json"
echo "vendor-assets: wrote $vendor/manifest.json"
