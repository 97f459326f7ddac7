// How the pages show time. One format for dates (UTC, to the second); beside it two named helpers
// that a page script mirrors as it adds rows or ticks: a log line's time of day
// (assets/deployment.ts) and the agent console's "12 s ago" (assets/agent-console.ts).

/** `2025-01-31 14:05:09 UTC`; '—' for none. */
export function formatDate(value: string | Date | null | undefined): string {
  if (value === null || value === undefined) return '—';
  const iso = typeof value === 'string' ? value : value.toISOString();
  return `${iso.slice(0, 19).replace('T', ' ')} UTC`;
}

/** A log line's time of day in UTC (`14:05:09`), under a column that says UTC. */
export const timeOfDay = (iso: string) => iso.slice(11, 19);

/** "12 s ago", "3 min ago", "2 h ago", "4 d ago". */
export function ago(seconds: number): string {
  if (seconds < 60) return `${seconds} s ago`;
  if (seconds < 3600) return `${Math.floor(seconds / 60)} min ago`;
  if (seconds < 86_400) return `${Math.floor(seconds / 3600)} h ago`;
  return `${Math.floor(seconds / 86_400)} d ago`;
}
