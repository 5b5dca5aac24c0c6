#!/bin/sh
# Copies what the runtime image needs from a built, pruned checkout (`npm ci`, `tsc -b`,
# `npm prune --omit=dev`) into OUT: the production node_modules, and for each package the CLI loads,
# its package.json, dist/ and any node_modules npm nested under it (a version that could not be
# hoisted). Links of workspaces that are not copied (examples, bench) are removed. Used by the
# Dockerfile's build stage; runnable by hand to inspect the tree: deploy/docker/assemble-runtime.sh /tmp/out
set -eu
OUT=${1:?usage: assemble-runtime.sh OUT}
PACKAGES="core audit guard auth-server gateway bff cli"
mkdir -p "$OUT/packages"
for p in $PACKAGES; do
  mkdir -p "$OUT/packages/$p"
  cp -r "packages/$p/package.json" "packages/$p/dist" "$OUT/packages/$p/"
  if [ -d "packages/$p/node_modules" ]; then cp -r "packages/$p/node_modules" "$OUT/packages/$p/"; fi
done
cp -r packages/cli/bin "$OUT/packages/cli/"
cp -r node_modules package.json "$OUT/"
for link in "$OUT"/node_modules/@gatehouse/* "$OUT"/node_modules/gatehouse; do
  [ -L "$link" ] || continue
  [ -e "$link" ] || rm "$link"
done
find "$OUT/node_modules" -mindepth 1 -maxdepth 1 -type d -empty -delete
