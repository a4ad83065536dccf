#!/usr/bin/env bash
# The package as users get it: `npm pack`, installed into a scratch project (strict, nodenext). There,
# with each TypeScript version users have (TS_VERSIONS), every ```ts block of README.md and docs/ must
# type-check and the README's rank.ts runs on 8 ranks as a .ts rank module (`multirank run`); then the
# README's driver.ts runs and its rank.test.ts passes under node:test. The install runs the package's
# install script (the native build, with the package manager's node-gyp) and must leave the addon built
# where the build can happen. Needs the npm registry (the dependencies, typescript, @types/node) at
# install time only. Run after `npm ci` (dist/ built). Usage: .ci/packed/check.sh
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
repo="$(cd "$here/../.." && pwd)"
versions="${TS_VERSIONS:-5.0 5.9 6.0 7.0}"
work="$(mktemp -d "${TMPDIR:-/tmp}/multirank-packed-XXXXXX")"
trap 'rm -rf "$work"' EXIT
started=$SECONDS

(cd "$repo" && npm pack --ignore-scripts --silent --pack-destination "$work" >/dev/null)
tarball="$(ls "$work"/multirank-*.tgz)"
mkdir "$work/proj" && cd "$work/proj"
printf '{ "name": "scratch", "private": true, "type": "module" }\n' > package.json
cp "$here/tsconfig.json" .
node "$here/extract-blocks.mjs" blocks "$repo/README.md" "$repo"/docs/*.md

npm install --no-audit --no-fund --loglevel=error "$tarball" "@types/node@^20" >/dev/null
echo "installed: $(du -sh node_modules | cut -f1), $(ls node_modules | wc -l) top-level packages"
node -e '
  const s = require("./node_modules/multirank/native/build/status.json");
  console.log("native build at install:", s.ok ? "built" : s.reason);
  if (!s.ok && process.env.MULTIRANK_SKIP_NATIVE !== "1" && !/no Node headers|compiler|make|python/.test(s.reason)) process.exit(1);
'
for dev in assemblyscript binaryen typescript node-gyp esbuild; do
  if [ -e "node_modules/$dev" ]; then echo "FAIL: the install pulled in $dev"; exit 1; fi
done

for version in $versions; do
  npm install --no-audit --no-fund --loglevel=error --no-save "typescript@$version" >/dev/null
  echo "typescript $(node -p 'require("typescript/package.json").version'): tsc --noEmit"
  npx --no-install tsc -p . --noEmit
  echo "typescript $version: multirank run -n 8 blocks/rank.ts"
  npx --no-install multirank run -n 8 --quiet blocks/rank.ts -- --my-arg 1
done

npx --no-install tsc -p .
echo "driver.ts:"
node out/blocks/driver.js
node --test out/blocks/rank.test.js
echo "packed-package check: $((SECONDS - started)) s"
