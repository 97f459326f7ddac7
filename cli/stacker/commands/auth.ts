// stacker login, logout, whoami: the sign-in to a server (the sign-in flows themselves are login.ts).
import type { Command } from 'commander';
import { credentialsPath, removeCredentials } from '../credentials.ts';
import { loginInBrowser, loginWithToken, whoAmI } from '../login.ts';
import { clean } from '../output.ts';
import { globals, withExamples, type CommandDeps } from './shared.ts';

export function registerAuthCommands(program: Command, { apiFor, apiUrlOf, info, printJson }: CommandDeps): void {
  withExamples(
    program
      .command('login')
      .description('sign in: in the browser (authorization code + PKCE, loopback redirect), or with --token')
      .option('--token <token>', 'use this access token (CI); checked with the server, then saved')
      .option('--no-browser', 'print the sign-in address instead of opening a browser')
      .option('--port <port>', 'loopback port for the sign-in to come back to (default: any free port)', '0')
      .option('--timeout <seconds>', 'how long to wait for the browser', '300')
      .action(async (options: { token?: string; browser: boolean; port: string; timeout: string }, command: Command) => {
        const url = apiUrlOf(globals(command));
        const me = options.token
          ? await loginWithToken(url, options.token.trim())
          : await loginInBrowser(url, { noBrowser: !options.browser, port: Number(options.port), timeoutMs: Number(options.timeout) * 1000 });
        info(`Signed in to ${url} as ${clean(me.user_id ?? me.subject)} (${clean(me.subject)}); credentials saved in ${credentialsPath()}`);
      }),
    'stacker login',
    'stacker login --no-browser',
    'stacker login --token "$STACKER_TOKEN" --api-url https://stacker.example.com',
  );

  withExamples(
    program
      .command('logout')
      .description('forget the saved sign-in of the server')
      .action((_options: unknown, command: Command) => {
        const url = apiUrlOf(globals(command));
        info(removeCredentials(url) ? `Signed out of ${url}` : `Not signed in to ${url}`);
      }),
    'stacker logout',
  );

  withExamples(
    program
      .command('whoami')
      .description('who the saved sign-in (or STACKER_TOKEN) belongs to')
      .option('--json', 'as JSON')
      .action(async (options: { json?: boolean }, command: Command) => {
        const api = apiFor(globals(command));
        const me = await whoAmI(api);
        if (options.json) printJson(me);
        else process.stdout.write(`${clean(me.user_id ?? me.subject)} (${clean(me.kind)}, ${clean(me.subject)}) on ${api.baseUrl}\n`);
      }),
    'stacker whoami',
    'stacker whoami --json',
  );
}
