// The install command a user runs on their server, and the POSIX sh script it fetches. The script
// holds no credential: it trades the command's one-time secret for the agent's (POST .../enroll),
// writes them to a root-only env file and starts the agent container with it. Every file it writes
// is under STACKER_INSTALL_ROOT (default /), so tests run it unprivileged.

/** The one line shown on the deployment page: `curl -fsSL '<origin>/install/<secret>' | sh`. */
export function installCommandOf(origin: string, secret: string): string {
  return `curl -fsSL '${installScriptUrl(origin, secret)}' | sh`;
}

export const installScriptUrl = (origin: string, secret: string) => `${origin.replace(/\/+$/, '')}/install/${secret}`;

/** The container name of the agent the script starts (a new install replaces it). */
export const AGENT_CONTAINER = 'stacker-agent';

const safe = /^[A-Za-z0-9:/._@%+=,-]*$/;

export function renderInstallScript(options: { origin: string; secret: string; agentImage: string }): string {
  const origin = options.origin.replace(/\/+$/, '');
  const enrollUrl = `${installScriptUrl(origin, options.secret)}/enroll`;
  for (const value of [origin, enrollUrl, options.agentImage]) {
    // Everything interpolated is a URL or an image reference, checked where it is made; this keeps it so.
    if (!safe.test(value)) throw new Error('install script values must be plain URLs and image references');
  }
  return `#!/bin/sh
# Stacker: enrols this server and starts its agent (${options.agentImage}), which then deploys the
# stack Stacker sends it. Run as root:  curl -fsSL '<this URL>' | sh
# STACKER_INSTALL_ROOT (default /) is where every file is written.
set -eu

STACKER_URL='${origin}'
ENROLL_URL='${enrollUrl}'
AGENT_IMAGE='${options.agentImage}'
AGENT_CONTAINER='${AGENT_CONTAINER}'
ROOT="\${STACKER_INSTALL_ROOT:-/}"
ROOT="\${ROOT%/}"

say() { printf 'stacker: %s\\n' "$*"; }
fail() { printf 'stacker: error: %s\\n' "$*" >&2; exit 1; }

if [ -z "$ROOT" ] && [ "$(id -u)" != 0 ]; then
  fail "run this as root (curl ... | sudo sh)"
fi
command -v curl >/dev/null 2>&1 || fail "curl is needed"

if command -v docker >/dev/null 2>&1; then
  say "Docker is installed ($(docker --version 2>/dev/null || echo 'version unknown'))"
else
  say "Docker is not installed: installing it with Docker's own script (https://get.docker.com)"
  curl -fsSL https://get.docker.com | sh || fail "installing Docker failed (see above)"
fi
docker info >/dev/null 2>&1 || fail "Docker does not answer: is its service running? (systemctl start docker)"

say "enrolling this server with Stacker at $STACKER_URL"
umask 077
mkdir -p "$ROOT/etc/stacker"
ENV_FILE="$ROOT/etc/stacker/agent.env"
ANSWER="$ENV_FILE.new"
if ! CODE=$(curl -sS -X POST -o "$ANSWER" -w '%{http_code}' "$ENROLL_URL"); then
  rm -f "$ANSWER"
  fail "cannot reach Stacker at $STACKER_URL"
fi
if [ "$CODE" != 200 ]; then
  REASON=$(sed -n 's/.*"message":"\\([^"]*\\)".*/\\1/p' "$ANSWER")
  rm -f "$ANSWER"
  fail "enrollment refused (HTTP $CODE): \${REASON:-no reason given}"
fi
mv "$ANSWER" "$ENV_FILE"
DEPLOYMENT_HASH=$(sed -n 's/^DEPLOYMENT_HASH=//p' "$ENV_FILE")
case "$DEPLOYMENT_HASH" in
  ''|*[!A-Za-z0-9_-]*) fail "Stacker's answer has no valid DEPLOYMENT_HASH" ;;
esac
say "enrolled: the agent's credentials are in $ENV_FILE (readable by root only)"

PROJECT_DIR="/home/trydirect/$DEPLOYMENT_HASH"
mkdir -p "$ROOT$PROJECT_DIR"
say "the stack's compose file will be in $PROJECT_DIR"

if [ -n "$(docker ps -aq --filter "name=^$AGENT_CONTAINER\\$")" ]; then
  say "replacing the agent container $AGENT_CONTAINER that is already here"
  docker rm -f "$AGENT_CONTAINER" >/dev/null || fail "cannot remove the old agent container"
fi
say "starting the agent: docker run $AGENT_IMAGE as $AGENT_CONTAINER"
docker run -d --name "$AGENT_CONTAINER" --restart unless-stopped \\
  --env-file "$ENV_FILE" \\
  -e COMPOSE_PROJECT_DIR="$PROJECT_DIR" \\
  -v /var/run/docker.sock:/var/run/docker.sock \\
  -v /usr/bin/docker:/usr/bin/docker:ro \\
  -v /usr/libexec/docker/cli-plugins:/usr/libexec/docker/cli-plugins:ro \\
  -v "$ROOT/home/trydirect:/home/trydirect" \\
  "$AGENT_IMAGE" >/dev/null || fail "docker run of the agent failed (see above)"
say "done: the agent is running and Stacker deploys the stack now; follow it on the deployment's page"
`;
}
