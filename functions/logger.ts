/** One JSON object per line on stdout: what Workers Logs, `wrangler tail` and log shippers index. */
export type LogLevel = 'debug' | 'info' | 'warn' | 'error';

const severity: Record<LogLevel, number> = { debug: 10, info: 20, warn: 30, error: 40 };
let threshold = severity.info;

/** Set from LOG_LEVEL once per isolate (plain data). */
export function setLogLevel(level: LogLevel): void {
  threshold = severity[level];
}

export function log(level: LogLevel, msg: string, fields: Record<string, unknown> = {}): void {
  if (severity[level] < threshold) return;
  const line = JSON.stringify({ level, time: new Date().toISOString(), msg, ...fields });
  if (level === 'error') console.error(line);
  else if (level === 'warn') console.warn(line);
  else console.log(line);
}

/** The parts of an error worth logging: never its whole object (drivers hang connection strings on them). */
export function describeError(error: unknown): Record<string, unknown> {
  if (!(error instanceof Error)) return { error: String(error) };
  const described: Record<string, unknown> = { error: error.message, errorName: error.name };
  if (error.stack) described.stack = error.stack.split('\n').slice(0, 8).join('\n');
  const code = (error as { code?: unknown }).code;
  if (typeof code === 'string') described.code = code;
  if (error.cause !== undefined) described.cause = describeError(error.cause);
  return described;
}
