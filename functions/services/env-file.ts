// The `.env` text of an app's environment, both ways. Stricter than dotenv on purpose: a line that
// is not `KEY=value` is an error naming the line, never silently skipped (dotenv's parse drops it).
export interface EnvEntry {
  key: string;
  value: string;
}

export interface EnvFileError {
  line: number;
  message: string;
}

const keyPattern = /^[A-Za-z_][A-Za-z0-9_.-]*$/;
const needsQuotes = /[\s"'#\\$`]/;

/** Entries as `.env` lines; values with spaces, quotes, `#` or newlines are double-quoted. */
export function formatEnvFile(entries: EnvEntry[]): string {
  return entries
    .map(({ key, value }) => {
      if (value === '' || !needsQuotes.test(value)) return `${key}=${value}`;
      return `${key}="${value.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n').replace(/\r/g, '\\r')}"`;
    })
    .join('\n');
}

function unquote(raw: string): string | undefined {
  if (raw.startsWith('"')) {
    const match = /^"((?:[^"\\]|\\.)*)"\s*(#.*)?$/.exec(raw);
    if (!match) return undefined;
    return match[1]!.replace(/\\(.)/g, (_, c: string) => ({ n: '\n', r: '\r', t: '\t' })[c] ?? c);
  }
  if (raw.startsWith("'")) {
    const match = /^'([^']*)'\s*(#.*)?$/.exec(raw);
    return match ? match[1] : undefined;
  }
  // Unquoted: a `#` after whitespace starts a comment (found by a search of two characters: `\s+#.*$`
  // retried its run of spaces from each of them, quadratic on a long line of spaces).
  const comment = raw.search(/\s#/);
  return (comment < 0 ? raw : raw.slice(0, comment)).trim();
}

/** Parses `.env` text: blank lines and `#` comments skipped, `export ` allowed, each key once. */
export function parseEnvFile(text: string): { entries: EnvEntry[]; errors: EnvFileError[] } {
  const entries: EnvEntry[] = [];
  const errors: EnvFileError[] = [];
  const seen = new Map<string, number>();
  text.split(/\r?\n/).forEach((source, index) => {
    const line = index + 1;
    const trimmed = source.trim();
    if (trimmed === '' || trimmed.startsWith('#')) return;
    const body = trimmed.replace(/^export\s+/, '');
    const equals = body.indexOf('=');
    if (equals <= 0) {
      errors.push({ line, message: `line ${line} is not KEY=value` });
      return;
    }
    const key = body.slice(0, equals).trim();
    if (!keyPattern.test(key)) {
      errors.push({ line, message: `line ${line}: "${key.slice(0, 40)}" is not a variable name (letters, digits, "_", ".", "-"; not starting with a digit)` });
      return;
    }
    const value = unquote(body.slice(equals + 1).trim());
    if (value === undefined) {
      errors.push({ line, message: `line ${line}: the quoted value of ${key} is not closed` });
      return;
    }
    const earlier = seen.get(key);
    if (earlier !== undefined) {
      errors.push({ line, message: `line ${line}: ${key} is already set on line ${earlier}` });
      return;
    }
    seen.set(key, line);
    entries.push({ key, value });
  });
  return { entries, errors };
}
