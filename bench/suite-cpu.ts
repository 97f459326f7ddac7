// Where a command's CPU time goes, by kind of process: runs the command (default `npm test`) and
// reads /proc every 200 ms, adding each process's CPU time (utime + stime) since it was last seen to
// its kind (workerd, PostgreSQL, Chromium, esbuild, the CLI or console, npm start, vitest, ...).
// A process that lives less than one look is missed, and so is the last look's worth of one that
// ends: the total is a little under the machine's own count, which is printed beside it.
//   node bench/suite-cpu.ts [-- command args...]
import { spawn } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { machine } from './lib/service.ts';

const TICKS_PER_SECOND = 100;
// --timeline: also print each 10 s of the run's CPU by kind, to see where the cores idle.
const timeline = process.argv.slice(2, process.argv.includes('--') ? process.argv.indexOf('--') : undefined).includes('--timeline');
const command = process.argv.includes('--') ? process.argv.slice(process.argv.indexOf('--') + 1) : ['npm', 'test'];

function kindOf(args: string, parentArgs = ''): string {
  // wrangler dev's workerd also listens on port 0 (behind its proxy): a test runtime is vitest's child.
  if (/workerd serve/.test(args) && /vitest/.test(parentArgs)) return 'workerd (vitest test runtimes)';
  if (/workerd/.test(args)) return 'workerd (npm start)';
  if (/^postgres|\/postgres\b|postgres:/.test(args)) return 'PostgreSQL';
  if (/chrom/i.test(args)) return 'Chromium';
  if (/esbuild/.test(args)) return 'esbuild';
  if (/cli\/stacker|cli\/console\.ts|stacker\/bin\.js|stacker-test-cli-[^/]*\/stacker\.mjs/.test(args)) return 'stacker CLI and console';
  if (/scripts\/start\.ts|wrangler/.test(args)) return 'npm start (start.ts, wrangler)';
  if (/try-server|stand-ins/.test(args)) return 'try-server and stand-ins';
  if (/vitest\/suppress-warnings|tinypool|node:.*worker/.test(args)) return 'vitest forks (node project files)';
  if (/vitest/.test(args)) return 'vitest main (runs the files, serves workerd its modules)';
  if (/\bsh\b|bash|curl|docker/.test(args)) return 'shell, curl, docker stand-in';
  return 'other';
}

function processes(): Map<number, { ticks: number; system: number; args: string; parent: number }> {
  const seen = new Map<number, { ticks: number; system: number; args: string; parent: number }>();
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      const ticks = Number(fields[11]) + Number(fields[12]); // utime, stime
      const args = readFileSync(`/proc/${entry}/cmdline`, 'utf8').split('\0').join(' ').trim() || stat.slice(stat.indexOf('(') + 1, stat.lastIndexOf(')'));
      seen.set(Number(entry), { ticks, system: Number(fields[12]), args, parent: Number(fields[1]) });
    } catch {
      // it ended between the listing and the read
    }
  }
  return seen;
}

function machineTicks(): { busy: number; all: number } {
  const [, ...values] = readFileSync('/proc/stat', 'utf8').split('\n')[0]!.trim().split(/\s+/);
  const numbers = values.map(Number);
  const idle = numbers[3]! + numbers[4]!;
  const all = numbers.reduce((sum, value) => sum + value, 0);
  return { busy: all - idle, all };
}

const baseline = processes();
const last = new Map<number, number>([...baseline].map(([pid, { ticks }]) => [pid, ticks]));
// The kernel's share (stime) of each kind's ticks: system calls, page faults, process start and exit.
const lastSystem = new Map<number, number>([...baseline].map(([pid, { system }]) => [pid, system]));
const systemByKind = new Map<string, number>();
const byKind = new Map<string, number>();
// The commands behind "other", by their first two words, to tell what the kinds above miss.
const otherByCommand = new Map<string, number>();
// Processes seen per kind, and the workers vitest itself started: its workerd test runtimes (each loads
// the whole module graph) and its Node forks (the node project's files).
const pidsByKind = new Map<string, Set<number>>();
const testRuntimes = new Set<number>();
const nodeForks = new Set<number>();
const startedAt = performance.now();
const WINDOW_SECONDS = 10;
const windows: Map<string, number>[] = [];
const machineBefore = machineTicks();

// Each process's kind, fixed when first seen (its parent may end before it).
const kinds = new Map<number, string>();

function look(): void {
  const now = processes();
  for (const [pid, { ticks, system, args, parent }] of now) {
    if (pid === process.pid) continue;
    const before = last.get(pid) ?? 0;
    if (!kinds.has(pid)) kinds.set(pid, kindOf(args, now.get(parent)?.args));
    const kind = kinds.get(pid)!;
    if (!baseline.has(pid)) {
      if (!pidsByKind.has(kind)) pidsByKind.set(kind, new Set());
      pidsByKind.get(kind)!.add(pid);
      if (kind === 'workerd (vitest test runtimes)') testRuntimes.add(pid);
      if (/vitest\/suppress-warnings/.test(args)) nodeForks.add(pid);
    }
    if (ticks > before) {
      byKind.set(kind, (byKind.get(kind) ?? 0) + ticks - before);
      const index = Math.floor((performance.now() - startedAt) / 1000 / WINDOW_SECONDS);
      windows[index] ??= new Map();
      windows[index]!.set(kind, (windows[index]!.get(kind) ?? 0) + ticks - before);
      if (kind === 'other') {
        const command = args.split(' ').slice(0, 2).join(' ').slice(0, 120);
        otherByCommand.set(command, (otherByCommand.get(command) ?? 0) + ticks - before);
      }
    }
    last.set(pid, ticks);
    if (system > (lastSystem.get(pid) ?? 0)) systemByKind.set(kind, (systemByKind.get(kind) ?? 0) + system - (lastSystem.get(pid) ?? 0));
    lastSystem.set(pid, system);
  }
}

const timer = setInterval(look, 200);
const child = spawn(command[0]!, command.slice(1), { stdio: 'inherit' });
child.on('exit', (code) => {
  clearInterval(timer);
  look();
  const seconds = (performance.now() - startedAt) / 1000;
  const machineAfter = machineTicks();
  const total = [...byKind.values()].reduce((sum, ticks) => sum + ticks, 0);
  console.log(`\nMachine: ${machine()}`);
  console.log(`Command: node bench/suite-cpu.ts -- ${command.join(' ')} (exit ${code})`);
  console.log(`Date: ${new Date().toISOString()}`);
  console.log(`Wall: ${seconds.toFixed(0)} s. CPU seen in processes: ${(total / TICKS_PER_SECOND).toFixed(0)} s; the machine's own count, all processes: ${((machineAfter.busy - machineBefore.busy) / TICKS_PER_SECOND).toFixed(0)} s busy of ${((machineAfter.all - machineBefore.all) / TICKS_PER_SECOND).toFixed(0)} s (all cores).\n`);
  console.log('| kind of process | CPU s | share | of it, kernel (system) s | processes |');
  console.log('|---|--:|--:|--:|--:|');
  for (const [kind, ticks] of [...byKind].sort((a, b) => b[1] - a[1])) {
    console.log(`| ${kind} | ${(ticks / TICKS_PER_SECOND).toFixed(0)} | ${((100 * ticks) / total).toFixed(0)}% | ${((systemByKind.get(kind) ?? 0) / TICKS_PER_SECOND).toFixed(0)} | ${pidsByKind.get(kind)?.size ?? 0} |`);
  }
  console.log(`\nWorkers vitest started: ${testRuntimes.size} workerd test runtimes, ${nodeForks.size} Node forks.`);
  if (timeline) {
    console.log(`\nEach ${WINDOW_SECONDS} s: CPU seconds by kind (of ${2 * WINDOW_SECONDS} on two cores).`);
    for (const [index, window] of windows.entries()) {
      const parts = [...(window ?? new Map())].sort((a, b) => b[1] - a[1]).map(([kind, ticks]) => `${kind.split(' (')[0]} ${(ticks / TICKS_PER_SECOND).toFixed(1)}`);
      const sum = [...(window ?? new Map()).values()].reduce((a, b) => a + b, 0) / TICKS_PER_SECOND;
      console.log(`- ${String(index * WINDOW_SECONDS).padStart(3)} s: ${sum.toFixed(1).padStart(4)} | ${parts.join(', ')}`);
    }
  }
  const others = [...otherByCommand].sort((a, b) => b[1] - a[1]).slice(0, 8);
  if (others.length > 0) {
    console.log('\n"other", its largest commands:');
    for (const [command, ticks] of others) console.log(`- ${(ticks / TICKS_PER_SECOND).toFixed(1)} s: ${command}`);
  }
  process.exit(code ?? 1);
});
