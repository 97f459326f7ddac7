// Small helpers for the latency benchmarks: percentiles, a timed HTTP request on a keep-alive agent,
// and running the benchmark itself under a raised open-files limit.
import { spawn, spawnSync } from 'node:child_process';
import http from 'node:http';
import { performance } from 'node:perf_hooks';

/** Nearest-rank percentile of numbers (need not be sorted); NaN for none. */
export function percentile(values: readonly number[], p: number): number {
  if (values.length === 0) return Number.NaN;
  const sorted = [...values].sort((a, b) => a - b);
  const rank = Math.min(sorted.length, Math.max(1, Math.ceil((p / 100) * sorted.length)));
  return sorted[rank - 1]!;
}

/** Milliseconds with one decimal, or "-" when there is no figure. */
export function ms(value: number): string {
  return Number.isFinite(value) ? value.toFixed(1) : '-';
}

export const sleep = (milliseconds: number) => new Promise<void>((resolve) => setTimeout(resolve, milliseconds));

/** Runs `work` for each item, `concurrency` at a time. */
export async function eachLimited<T>(items: T[], concurrency: number, work: (item: T, index: number) => Promise<void>): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next < items.length) {
        const index = next++;
        await work(items[index]!, index);
      }
    }),
  );
}

export interface TimedResponse {
  status: number;
  body: string;
  /** performance.now() when the request was handed to the socket layer. */
  sentAt: number;
  /** performance.now() when the whole response body had arrived. */
  doneAt: number;
}

/** One HTTP request; rejects only on network errors (any status resolves). */
export function timedRequest(
  agent: http.Agent,
  url: string,
  options: { method?: string; headers?: Record<string, string>; body?: string; timeoutMs?: number } = {},
): Promise<TimedResponse> {
  return new Promise((resolve, reject) => {
    const headers: Record<string, string> = { ...options.headers };
    if (options.body !== undefined) headers['content-length'] = String(Buffer.byteLength(options.body));
    const request = http.request(url, { method: options.method ?? 'GET', headers, agent }, (response) => {
      const chunks: Buffer[] = [];
      response.on('data', (chunk: Buffer) => chunks.push(chunk));
      response.on('end', () => {
        const doneAt = performance.now();
        resolve({ status: response.statusCode ?? 0, body: Buffer.concat(chunks).toString('utf8'), sentAt, doneAt });
      });
      response.on('error', reject);
    });
    request.on('error', reject);
    if (options.timeoutMs) {
      request.setTimeout(options.timeoutMs, () => request.destroy(new Error(`no answer within ${options.timeoutMs} ms`)));
    }
    const sentAt = performance.now();
    request.end(options.body);
  });
}

/** The soft limit on open files of this process (as the shell reports it; NaN if unknown). */
export function openFilesLimit(): number {
  const result = spawnSync('/bin/sh', ['-c', 'ulimit -n'], { encoding: 'utf8' });
  const value = result.stdout.trim();
  return value === 'unlimited' ? Number.POSITIVE_INFINITY : Number(value);
}

const RAISED = 'STACKER_BENCH_NOFILE_RAISED';

/**
 * A benchmark that holds thousands of sockets needs more open files than the usual soft limit (1024):
 * when the limit is below `needed`, runs this same script again under `ulimit -n <hard limit>` (the
 * hard limit first raised to `needed` where that is allowed, e.g. as root) and
 * resolves with its exit code; otherwise (or in that child) resolves undefined and the caller goes on.
 */
export async function runWithOpenFiles(needed: number): Promise<number | undefined> {
  if (process.env[RAISED] === '1' || openFilesLimit() >= needed) return undefined;
  const script = process.argv[1]!;
  const child = spawn(
    '/bin/sh',
    // As root (CAP_SYS_RESOURCE) the hard limit is raised to `needed` first when it is lower (up to
    // fs.nr_open); otherwise the soft limit goes up to the hard limit, and that is what the run gets.
    [
      '-c',
      'h="$(ulimit -Hn)"; if [ "$h" != unlimited ] && [ "$h" -lt "$1" ]; then ulimit -Hn "$1" 2>/dev/null; fi; ' +
        'ulimit -n "$(ulimit -Hn)" 2>/dev/null; shift; exec "$0" "$@"',
      process.execPath,
      String(needed),
      ...process.execArgv,
      script,
      ...process.argv.slice(2),
    ],
    { stdio: 'inherit', env: { ...process.env, [RAISED]: '1' } },
  );
  // Ctrl-C reaches the child too (same process group); a SIGTERM sent to this process only is passed on.
  const ignore = () => undefined;
  const forward = () => child.kill('SIGTERM');
  process.on('SIGINT', ignore).on('SIGTERM', forward);
  return new Promise((resolve) => {
    child.once('exit', (code, signal) => {
      process.off('SIGINT', ignore).off('SIGTERM', forward);
      resolve(code ?? (signal === 'SIGINT' ? 130 : 1));
    });
  });
}

/** An argument as a POSIX shell would need it, for quoting the exact command in the output. */
export function shellQuote(argument: string): string {
  return /^[\w@%+=:,./-]+$/.test(argument) ? argument : `'${argument.replace(/'/g, `'\\''`)}'`;
}
