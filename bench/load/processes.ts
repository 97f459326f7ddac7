// Memory and CPU of what the load run started, read from /proc (Linux). The service
// (`node scripts/start.ts` with the WebSocket proxy, wrangler, workerd) and the private PostgreSQL are
// descendants of this process, so they are found by walking the parent links, not by name alone.
import { readdirSync, readFileSync } from 'node:fs';

const TICKS_PER_SECOND = 100; // USER_HZ on Linux

interface ProcessInfo {
  pid: number;
  ppid: number;
  name: string;
  /** CPU seconds of the process and of its children it has waited for (a PostgreSQL backend that ended counts under the postmaster). */
  cpuSeconds: number;
}

function processTable(): Map<number, ProcessInfo> {
  const table = new Map<number, ProcessInfo>();
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      // /proc/<pid>/stat: "pid (name) state ppid ..."; the name may hold spaces and parentheses.
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      const close = stat.lastIndexOf(')');
      const fields = stat.slice(close + 2).split(' '); // fields[0] is the state (field 3 of stat)
      const ticks = [11, 12, 13, 14].reduce((sum, index) => sum + Number(fields[index]), 0); // utime stime cutime cstime
      table.set(Number(entry), { pid: Number(entry), ppid: Number(fields[1]), name: stat.slice(stat.indexOf('(') + 1, close), cpuSeconds: ticks / TICKS_PER_SECOND });
    } catch {
      // the process ended while we looked
    }
  }
  return table;
}

/** What a process is, for the report: by its command line, since Node's threads are all called MainThread. */
function parentCommand(pid: number): string {
  try {
    // /proc/<pid>/stat: "pid (name) state ppid ..."; the name may hold spaces, so read after its ')'.
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const ppid = stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1];
    return readFileSync(`/proc/${ppid}/cmdline`, 'utf8').replace(/\0/g, ' ');
  } catch {
    return '';
  }
}

function kindOf(pid: number, name: string): string {
  let command = '';
  try {
    command = readFileSync(`/proc/${pid}/cmdline`, 'utf8').replace(/\0/g, ' ');
  } catch {
    // gone
  }
  // wrangler dev runs two: the Worker (with an inspector) and its own proxy in front of it, on PORT.
  // Under scripts/serve-miniflare.ts the one workerd is the Worker's.
  if (name === 'workerd' || command.includes('/workerd ')) {
    return command.includes('--inspector-addr') || parentCommand(pid).includes('serve-miniflare.ts') ? 'workerd' : "workerd (wrangler's proxy)";
  }
  if (name.startsWith('postgres') || command.includes('postgres -D') || name === 'runuser') return 'postgres';
  if (command.includes('scripts/start.ts')) return 'start.ts + WebSocket proxy';
  if (command.includes('wrangler')) return 'wrangler';
  if (name === 'esbuild' || command.includes('esbuild')) return 'esbuild';
  return name;
}

export interface Snapshot {
  /** RSS of the workerd process(es) running the Worker, bytes. */
  workerd: number;
  /** Their kernel-recorded peak RSS (VmHWM), bytes. */
  workerdPeak: number;
  /** RSS per kind of process of the service (PostgreSQL not included), bytes. */
  memory: Map<string, number>;
  /** CPU seconds used so far per kind of process, PostgreSQL and this benchmark included. */
  cpu: Map<string, number>;
}

function kilobytes(status: string, field: string): number {
  const match = new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(status);
  return match ? Number(match[1]) * 1024 : 0;
}

export function snapshot(): Snapshot {
  const table = processTable();
  const children = new Map<number, number[]>();
  for (const info of table.values()) children.set(info.ppid, [...(children.get(info.ppid) ?? []), info.pid]);
  const result: Snapshot = { workerd: 0, workerdPeak: 0, memory: new Map(), cpu: new Map() };
  const usage = process.cpuUsage();
  result.cpu.set('this benchmark (agents, users, stubs)', (usage.user + usage.system) / 1e6);
  const queue = [...(children.get(process.pid) ?? [])];
  while (queue.length) {
    const pid = queue.shift()!;
    queue.push(...(children.get(pid) ?? []));
    const info = table.get(pid)!;
    if (info.name === 'sh') continue;
    const kind = kindOf(pid, info.name);
    result.cpu.set(kind, (result.cpu.get(kind) ?? 0) + info.cpuSeconds);
    if (kind === 'postgres') continue;
    try {
      const status = readFileSync(`/proc/${pid}/status`, 'utf8');
      const rss = kilobytes(status, 'VmRSS');
      result.memory.set(kind, (result.memory.get(kind) ?? 0) + rss);
      if (kind === 'workerd') {
        result.workerd += rss;
        result.workerdPeak += kilobytes(status, 'VmHWM');
      }
    } catch {
      // gone
    }
  }
  return result;
}

/** Total RSS of the service's processes, bytes. */
export const serviceRss = (shot: Snapshot) => [...shot.memory.values()].reduce((a, b) => a + b, 0);

/** CPU used between two snapshots, per kind, as a share of one core over `seconds`. */
export function cpuBetween(before: Snapshot, after: Snapshot, seconds: number): Array<[string, number]> {
  return [...after.cpu]
    .map(([kind, total]): [string, number] => [kind, (total - (before.cpu.get(kind) ?? 0)) / seconds])
    .filter(([, share]) => share >= 0.005)
    .sort((a, b) => b[1] - a[1]);
}

export const mib = (bytes: number) => `${(bytes / 2 ** 20).toFixed(0)} MiB`;

/** Jiffies the whole machine has spent busy and in all, since boot (/proc/stat). */
export function machineCpu(): { busy: number; total: number } {
  const [, ...values] = readFileSync('/proc/stat', 'utf8').split('\n')[0]!.trim().split(/\s+/);
  const ticks = values.map(Number);
  const idle = ticks[3]! + (ticks[4] ?? 0); // idle + iowait
  const total = ticks.slice(0, 8).reduce((a, b) => a + b, 0); // user nice system idle iowait irq softirq steal
  return { busy: total - idle, total };
}
