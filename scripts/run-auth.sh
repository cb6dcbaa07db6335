#!/usr/bin/env bash
# Serves the API with AUTH_MODE=oidc against the local test OpenID Provider
# (tools/oidc-provider, on 127.0.0.1:$OIDC_PROVIDER_PORT, default 9400),
# and prints how to get a token with curl. The provider's clients and
# secrets are public test values: it is for a laptop, never a deployment.
# Ctrl-C stops both.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
port=${OIDC_PROVIDER_PORT:-9400}
audience=urn:backend:api
issuer="http://127.0.0.1:$port"

command -v node >/dev/null 2>&1 || { echo "run-auth needs Node.js 20 or later (and npm)"; exit 1; }
if [ ! -d "$root/tools/oidc-provider/node_modules/oidc-provider" ]; then
  npm ci --prefix "$root/tools/oidc-provider" --no-audit --no-fund --loglevel=error
fi

PORT=$port AUDIENCE=$audience node "$root/tools/oidc-provider/server.mjs" 2>/dev/null &
provider=$!
trap 'kill "$provider" 2>/dev/null || true' EXIT
for _ in $(seq 50); do
  curl -fs "$issuer/.well-known/openid-configuration" >/dev/null 2>&1 && break
  kill -0 "$provider" 2>/dev/null || { echo "run-auth: the provider did not start (port $port taken? set OIDC_PROVIDER_PORT)"; exit 1; }
  sleep 0.2
done

cat <<MSG
run-auth: OpenID Provider at $issuer (clients backend-cli and backend-cli-es256)
Get a token (client credentials) and call the API once it listens:

  TOKEN=\$(curl -s -u backend-cli:backend-cli-secret \\
    -d grant_type=client_credentials -d 'scope=users:read users:write' \\
    $issuer/token | sed -E 's/.*"access_token":"([^"]+)".*/\1/')
  curl -i -H "Authorization: Bearer \$TOKEN" http://127.0.0.1:\${PORT:-8000}/api/v1/users

MSG

export AUTH_MODE=oidc OIDC_ISSUER="$issuer" OIDC_AUDIENCE="$audience"
unset OIDC_JWKS_URL
"$root/scripts/with-dev-db.sh" "${CARGO:-cargo}" run --locked -- serve
