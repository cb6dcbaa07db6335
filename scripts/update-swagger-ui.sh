#!/usr/bin/env bash
# Fetches swagger-ui-dist VERSION from npm, checks the tarball against the
# registry's integrity hash, and writes the assets /docs serves into
# src/openapi/swagger-ui/ (the large ones gzip-compressed, deterministic).
#
#   scripts/update-swagger-ui.sh 5.35.0
set -euo pipefail
cd "$(dirname "$0")/.."
version=${1:?usage: update-swagger-ui.sh VERSION}
out=src/openapi/swagger-ui
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
integrity=$(npm view "swagger-ui-dist@$version" dist.integrity)
(cd "$work" && npm pack --silent "swagger-ui-dist@$version" >/dev/null)
tarball=$(ls "$work"/swagger-ui-dist-*.tgz)
actual="sha512-$(openssl dgst -sha512 -binary "$tarball" | base64 -w0)"
[ "$actual" = "$integrity" ] || { echo "integrity mismatch: $actual != $integrity" >&2; exit 1; }
tar xzf "$tarball" -C "$work"
p=$work/package
for f in swagger-ui-bundle.js swagger-ui.css; do gzip -9nc "$p/$f" > "$out/$f.gz"; done
cp "$p/oauth2-redirect.html" "$p/oauth2-redirect.js" "$p/LICENSE" "$p/NOTICE" "$out/"
sed -i "s/\*\*[0-9.]*\*\*/**$version**/; s|sha512-[A-Za-z0-9+/=]*|$integrity|" "$out/README.md"
for f in swagger-ui-bundle.js swagger-ui.css oauth2-redirect.html oauth2-redirect.js; do
  sum=$(sha256sum "$p/$f" | cut -d' ' -f1)
  sed -i "s/^\(| \`$f[^|]*|[^|]*| \`\)[0-9a-f]*\`/\1$sum\`/" "$out/README.md"
done
echo "swagger-ui-dist $version written to $out; update the version in src/openapi/docs.rs' doc too" >&2
