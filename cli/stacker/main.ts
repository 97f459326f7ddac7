// stacker: the user's command line. Sign in, describe a stack in stacker.yml, push and deploy it,
// follow the deployment, and drive the agent on the deployed server. Run it as `npx stacker`.
// This file builds the program (global options, help, errors), registers the command groups of
// commands/ on it in the order `stacker --help` lists them, and runs it.
import { Command, CommanderError, Option } from 'commander';
import { apiFor, apiUrlOf } from './api.ts';
import { registerAgentCommands } from './commands/agent.ts';
import { registerAuthCommands } from './commands/auth.ts';
import { registerCompletionCommand } from './commands/completion.ts';
import { registerConfigCommands } from './commands/config.ts';
import { registerDeployCommands } from './commands/deploy.ts';
import { registerOperationCommands } from './commands/operations.ts';
import { registerProjectCommands } from './commands/project.ts';
import { registerSecretsCommands } from './commands/secrets.ts';
import { registerServiceCommands } from './commands/service.ts';
import type { CommandDeps } from './commands/shared.ts';
import { activity, clean, CliError, EXIT, EXIT_CODES_HELP, info, printJson, printTable, progressBar, red } from './output.ts';

const program = new Command('stacker');

// ---- the program ----------------------------------------------------------------------------------

program
  .description('The Stacker command line: sign in, describe a stack in stacker.yml, deploy it, follow it, drive its agent.')
  .version('0.1.0')
  .addOption(new Option('--api-url <url>', 'the Stacker server (default $STACKER_URL, else http://127.0.0.1:8000)'))
  .addOption(new Option('-f, --file <path>', 'the stack file').default('stacker.yml'))
  .showSuggestionAfterError()
  .configureOutput({ outputError: (text, write) => write(text.replace(/^error: /, 'stacker: ')) })
  .addHelpText(
    'after',
    `
Environment:
  STACKER_URL    the server, as --api-url
  STACKER_TOKEN  an access token to use instead of the saved sign-in (CI)
  NO_COLOR       no colour, spinner or progress bar (neither when output is not a terminal)
  XDG_CONFIG_HOME  where credentials are kept ($XDG_CONFIG_HOME/stacker/credentials.json, mode 0600)
${EXIT_CODES_HELP}

A session:
  $ stacker login
  $ stacker init --from-compose docker-compose.yml
  $ stacker deploy --server own --address 203.0.113.10 --follow   # then run the printed line on the server
  $ stacker deploy --follow                                       # again: a new revision on the same server
  $ stacker rollback --revision 1
  $ stacker agent restart web
  $ stacker destroy`,
  );

const deps: CommandDeps = { apiFor, apiUrlOf, info, printJson, printTable, progressBar, activity, red };

// login, logout, whoami
registerAuthCommands(program, deps);

// init, config validate/show/example/schema
registerConfigCommands(program, deps);

// service list/add
registerServiceCommands(program, deps);

// push, compose
registerProjectCommands(program, deps);

// secrets list/show/set/rotate
registerSecretsCommands(program, deps);

// deploy, status, logs, deployments, servers, clouds, cancel
registerDeployCommands(program, deps);

// rollback, destroy (the built-in engine, your own server)
registerOperationCommands(program, deps);

// agent health/status/apps/history/logs/restart/exec
registerAgentCommands(program, deps);

// completion
registerCompletionCommand(program);

// ---- run --------------------------------------------------------------------------------------------

function report(error: unknown): number {
  if (error instanceof CommanderError) return error.exitCode === 0 ? EXIT.ok : EXIT.usage;
  if (error instanceof CliError) {
    // The message may carry the server's text: no terminal control sequences reach the terminal.
    const [first, ...rest] = clean(error.message, { multiline: true }).split('\n');
    process.stderr.write(`stacker: ${first}\n`);
    for (const line of rest) process.stderr.write(`${line}\n`);
    for (const field of error.fields) process.stderr.write(`  ${clean(field.path)}: ${clean(field.message)}\n`);
    return error.exitCode;
  }
  process.stderr.write(`stacker: unexpected error: ${clean(error instanceof Error ? error.message : String(error))} (please report it)\n`);
  return EXIT.failed;
}

program.exitOverride();
for (const sub of program.commands) {
  sub.exitOverride();
  for (const inner of sub.commands) inner.exitOverride();
}
process.on('SIGINT', () => process.exit(EXIT.interrupted));

try {
  await program.parseAsync(process.argv);
} catch (error) {
  process.exitCode = report(error);
}
