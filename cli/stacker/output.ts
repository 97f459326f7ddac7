// How the CLI talks to a person: colour and spinners only on a terminal without NO_COLOR, data as
// JSON with --json, errors as one line that says what to do.
import yoctoSpinner from 'yocto-spinner';

/** Exit codes (documented in `stacker --help` and the README). */
export const EXIT = {
  ok: 0,
  /** The API refused or failed (4xx/5xx other than those below), or a deployment ended other than completed. */
  failed: 1,
  /** Wrong usage: an unknown option, a missing argument, a bad --params. */
  usage: 2,
  /** Not signed in, or the sign-in has expired or was refused (401/403). */
  auth: 3,
  /** stacker.yml is missing or invalid. */
  config: 4,
  /** The server cannot be reached. */
  unreachable: 5,
  /** Waited too long (agent command, deployment). */
  timeout: 6,
  /** Interrupted (Ctrl-C). */
  interrupted: 130,
} as const;

export const EXIT_CODES_HELP = `
Exit codes:
  0  success (a followed deployment ended "completed", or "removed" for destroy; an agent command "completed")
  1  the server refused or failed the request, or the deployment/command ended otherwise
     (a broken update that rolled itself back ends "failed": the message says which revision runs)
  2  wrong usage (unknown option, missing argument, invalid --params JSON)
  3  not signed in, sign-in expired, or not allowed (run \`stacker login\`)
  4  stacker.yml missing or invalid (run \`stacker config validate\`)
  5  the server cannot be reached (check --api-url / STACKER_URL)
  6  timed out waiting (deployment or agent command)
  130 interrupted`;

/** A failure to report as one line and an exit code. `fields` are the API's field errors. */
export class CliError extends Error {
  readonly exitCode: number;
  readonly fields: Array<{ path: string; message: string }>;
  /** The HTTP status of an API refusal, if it was one. */
  status?: number;
  constructor(message: string, exitCode: number = EXIT.failed, fields: Array<{ path: string; message: string }> = []) {
    super(message);
    this.name = 'CliError';
    this.exitCode = exitCode;
    this.fields = fields;
  }
}

export const isTerminal = (stream: NodeJS.WriteStream = process.stderr) => Boolean(stream.isTTY) && !process.env.NO_COLOR && process.env.TERM !== 'dumb';

const paint = (code: number) => (text: string) => (isTerminal(process.stdout) ? `\u001b[${code}m${text}\u001b[0m` : text);
export const bold = paint(1);
export const dim = paint(2);
export const green = paint(32);
export const red = paint(31);
export const yellow = paint(33);

// Terminal control sequences (CSI, OSC, DCS/PM/APC strings, other ESC sequences, 8-bit CSI), the
// remaining C0/C1 control characters, and bidirectional overrides: what a server's text must not
// carry to a person's terminal (it could move the cursor, retitle the window or hide what follows).
const SEQUENCES = /\u001b\[[0-?]*[ -/]*[@-~]?|\u001b\][^\u0007\u001b]*(?:\u0007|\u001b\\)?|\u001b[PX^_][^\u001b]*(?:\u001b\\)?|\u001b[ -/]*[0-~]?|\u009b[0-?]*[ -/]*[@-~]?/g;
const LINE_BREAKS = /[\t\n\r\u000b\u000c\u0085\u2028\u2029]+/g;
const CONTROLS = /[\u0000-\u001f\u007f-\u009f\u200e\u200f\u202a-\u202e\u2066-\u2069]/g;

/**
 * Server text made safe to print: no terminal control sequences or control characters. One line by
 * default (line breaks and tabs become a space); `multiline` keeps line breaks.
 */
export function clean(text: string, options: { multiline?: boolean } = {}): string {
  const stripped = text.replace(SEQUENCES, '');
  if (options.multiline) return stripped.replace(/\r\n?/g, '\n').split('\n').map((line) => line.replace(LINE_BREAKS, ' ').replace(CONTROLS, '')).join('\n');
  return stripped.replace(LINE_BREAKS, ' ').replace(CONTROLS, '');
}

export function printJson(value: unknown): void {
  process.stdout.write(`${JSON.stringify(value, null, 2)}\n`);
}

/** A plain table: columns padded to their widest cell. */
export function printTable(headers: string[], rows: Array<Array<string | number | null | undefined>>): void {
  const cells = rows.map((row) => row.map((cell) => (cell === null || cell === undefined ? '' : clean(String(cell)))));
  const widths = headers.map((header, index) => Math.max(header.length, ...cells.map((row) => row[index]?.length ?? 0)));
  const line = (row: string[]) => row.map((cell, index) => (index === row.length - 1 ? cell : cell.padEnd(widths[index]!))).join('  ').trimEnd();
  process.stdout.write(`${bold(line(headers))}\n`);
  for (const row of cells) process.stdout.write(`${line(row)}\n`);
  if (rows.length === 0) process.stdout.write(`${dim('(none)')}\n`);
}

export function info(message: string): void {
  process.stderr.write(`${message}\n`);
}

export interface Activity {
  update(text: string): void;
  /** A permanent line above the spinner. */
  log(line: string): void;
  stop(final?: string): void;
}

/** A spinner on stderr when it is a terminal (and NO_COLOR is unset); nothing otherwise. */
export function activity(text: string): Activity {
  if (!isTerminal(process.stderr)) return { update() {}, log(line) { process.stdout.write(`${line}\n`); }, stop(final) { if (final) info(final); } };
  const spinner = yoctoSpinner({ text, stream: process.stderr }).start();
  return {
    update(next) {
      spinner.text = next;
    },
    log(line) {
      spinner.clear();
      process.stdout.write(`${line}\n`);
    },
    stop(final) {
      spinner.stop();
      if (final) info(final);
    },
  };
}

/** `[#####.....]  50%` */
export function progressBar(percent: number, width = 24): string {
  const clamped = Math.max(0, Math.min(100, Math.round(percent)));
  const filled = Math.round((clamped / 100) * width);
  return `[${'#'.repeat(filled)}${'.'.repeat(width - filled)}] ${String(clamped).padStart(3)}%`;
}
