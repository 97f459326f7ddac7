import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';

const root = join(import.meta.dirname, '..', '..');
const trackedFiles = execFileSync('git', ['ls-files', '-z'], { cwd: root, encoding: 'utf8' })
  .split('\0')
  .filter((path) => /\.(ts|tsx|js|mjs|json|toml|sh)$/.test(path) || path === '.ci/run');

// A clone from anywhere must pass its tests: nothing may reach for the project's neighbours.
const outsidePaths = [/\.\.\/shared\//, /['"]\.\.['"]\s*,\s*['"]shared['"]/, /\/work\/shared/];

describe('the repository is self-contained', () => {
  it('no tracked source, test, bench or script names a path outside the repository', () => {
    const offenders = trackedFiles.flatMap((path) => {
      const text = readFileSync(join(root, path), 'utf8');
      return outsidePaths.filter((pattern) => pattern.test(text)).map((pattern) => `${path}: ${pattern}`);
    });
    expect(trackedFiles.length).toBeGreaterThan(50);
    expect(offenders).toEqual([]);
  });

  it('.ci/run installs no system package for the tests', () => {
    expect(readFileSync(join(root, '.ci', 'run'), 'utf8')).not.toMatch(/apt-get|apt install/);
  });
});
