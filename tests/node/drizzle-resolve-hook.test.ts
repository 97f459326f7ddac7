// scripts/drizzle-resolve-hook.ts answers drizzle-orm's relative imports itself: the modules loaded
// under it must be exactly the ones Node loads without it.
import { execFileSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';

const LIST_DRIZZLE = `
  const names = {};
  for (const entry of ['drizzle-orm', 'drizzle-orm/pg-core', 'drizzle-orm/node-postgres', 'drizzle-orm/node-postgres/migrator', 'drizzle-orm/neon-serverless']) {
    names[entry] = Object.keys(await import(entry)).sort();
  }
  const hook = process.argv.includes('--with-hook') ? (await import('./scripts/drizzle-resolve-hook.ts')).drizzleResolveHook : undefined;
  console.log(JSON.stringify({ names, answered: hook?.answered ?? 0 }));
`;

function loadDrizzle(withHook: boolean): { names: Record<string, string[]>; answered: number } {
  const args = [...(withHook ? ['--import', './scripts/drizzle-resolve-hook.ts'] : []), '--input-type=module', '-e', LIST_DRIZZLE, ...(withHook ? ['--', '--with-hook'] : [])];
  return JSON.parse(execFileSync(process.execPath, args, { encoding: 'utf8' })) as { names: Record<string, string[]>; answered: number };
}

describe('the drizzle-orm resolve hook', () => {
  it('loads the same modules, with the same exports, as Node does without it', () => {
    const plain = loadDrizzle(false);
    const hooked = loadDrizzle(true);
    expect(Object.keys(plain.names)).toHaveLength(5);
    expect(plain.names['drizzle-orm/pg-core']).toContain('pgTable');
    expect(hooked.names).toEqual(plain.names);
    // drizzle-orm's own relative imports were answered by the hook, not by Node's resolver
    expect(hooked.answered).toBeGreaterThan(100);
  });
});
