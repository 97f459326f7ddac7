// What the command groups of `stacker` share: the options every command sees, the examples under a
// command's help, stacker.yml read and checked, one retry of a POST, and what main.ts gives each group.
import { existsSync, readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import type { Command } from 'commander';
import type { apiFor, apiUrlOf, GlobalOptions } from '../api.ts';
import { CliError, EXIT, type activity, type info, type printJson, type printTable, type progressBar, type red } from '../output.ts';
import { formatProblems, parseStackerFile, type StackerFile } from '../stacker-file.ts';

/** What each group's register function is given by main.ts: the API client factory and the output helpers. */
export interface CommandDeps {
  apiFor: typeof apiFor;
  apiUrlOf: typeof apiUrlOf;
  info: typeof info;
  printJson: typeof printJson;
  printTable: typeof printTable;
  progressBar: typeof progressBar;
  activity: typeof activity;
  red: typeof red;
}

export type Opts = GlobalOptions & { file: string };
export const globals = (command: Command): Opts => command.optsWithGlobals() as Opts;

export function withExamples(command: Command, ...examples: string[]): Command {
  return command.addHelpText('after', `\nExamples:\n${examples.map((line) => `  $ ${line}`).join('\n')}\n`);
}

/** Reads and validates stacker.yml; a CliError (exit 4) listing every problem with its line otherwise. */
export function loadFile(opts: Opts): { file: StackerFile; path: string; source: string } {
  const path = resolve(opts.file);
  if (!existsSync(path)) throw new CliError(`${opts.file} not found: run \`stacker init\` (or pass --file)`, EXIT.config);
  const source = readFileSync(path, 'utf8');
  const parsed = parseStackerFile(source);
  if (!parsed.ok) {
    const lines = formatProblems(opts.file, parsed.problems);
    throw new CliError(`${opts.file} is not valid (${lines.length} problem${lines.length === 1 ? '' : 's'}):\n${lines.join('\n')}`, EXIT.config);
  }
  for (const line of formatProblems(opts.file, parsed.warnings)) process.stderr.write(`${line}\n`);
  return { file: parsed.file, path, source };
}

/** One more try after a lost answer: a POST carries an Idempotency-Key, so it is safe. */
export async function withRetry<T>(send: () => Promise<T>): Promise<T> {
  try {
    return await send();
  } catch (error) {
    if (error instanceof CliError && error.exitCode === EXIT.unreachable) return send();
    throw error;
  }
}
