// npm run -s dev-login -- --user <name> [--role user|admin]
// Signs in at the development OpenID provider of a running `npm start` (through its sign-in form,
// authorization code + PKCE) and prints the access token, for curl: TOKEN=$(npm run -s dev-login -- --user alice)
import { parseArgs } from 'node:util';
import { devSignIn, signInAtDevProvider } from './dev-openid-provider.ts';
import { readLocalRun } from './local-run.ts';

async function main(): Promise<number> {
  const { values } = parseArgs({ options: { user: { type: 'string' }, role: { type: 'string' }, help: { type: 'boolean', short: 'h' } }, strict: true });
  if (values.help || !values.user) {
    console.error('Usage: npm run -s dev-login -- --user <name> [--role user|admin]');
    console.error("Prints an access token from the development OpenID provider of a running `npm start`.");
    return values.help ? 0 : 2;
  }
  const who = devSignIn.safeParse({ name: values.user, role: values.role });
  if (!who.success) {
    console.error(`dev-login: ${who.error.issues.map((issue) => `--${issue.path.join('.') === 'name' ? 'user' : issue.path.join('.')}: ${issue.message}`).join('; ')}`);
    return 2;
  }
  const dataDir = process.env.STACKER_DATA_DIR || '.data';
  const run = readLocalRun(dataDir);
  if (!run) {
    console.error(`dev-login: no \`npm start\` runs on ${dataDir} (STACKER_DATA_DIR): start it first`);
    return 1;
  }
  const issuer = run.services.OAUTH_ISSUER;
  if (!issuer) {
    console.error('dev-login: this `npm start` uses a configured OAuth provider (OAUTH_JWKS_URL or AUTH_URL), not the development one: get a token from that provider');
    return 1;
  }
  console.log(await signInAtDevProvider(issuer, who.data));
  return 0;
}

main().then(
  (code) => process.exit(code),
  (error: unknown) => {
    console.error(`dev-login: ${error instanceof Error ? error.message : String(error)}`);
    process.exit(1);
  },
);
