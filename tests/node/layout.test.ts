// The layout's rules (issue 25), read from the files on disk: which part of
// functions/ may import which, pages that do not import pages, and files that stay small.
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import ts from 'typescript';
import { describe, expect, it } from 'vitest';

const ROOT = resolve(import.meta.dirname, '..', '..');
const SCANNED = ['functions', 'cli/stacker'];
const MAX_LINES = 450;

/** The dashboard's router: it mounts every section's pages, so it is the one file of dashboard/ that imports them. */
const DASHBOARD_ROUTER = 'functions/dashboard/index.tsx';

type Layer = 'inputs' | 'services' | 'http' | 'api' | 'dashboard' | 'functions' | 'cli' | 'outside';

function layerOf(path: string): Layer {
  if (path.startsWith('functions/services/inputs/')) return 'inputs';
  if (path.startsWith('functions/services/')) return 'services';
  if (path.startsWith('functions/http/')) return 'http';
  if (path.startsWith('functions/api/')) return 'api';
  if (path.startsWith('functions/dashboard/')) return 'dashboard';
  if (path.startsWith('functions/')) return 'functions';
  if (path.startsWith('cli/stacker/')) return 'cli';
  return 'outside';
}

/**
 * The section of a dashboard page: a file of functions/dashboard/ itself (`servers.tsx`: servers) or of
 * a section's folder (`builder/app-page.tsx`: builder); undefined for components/, assets/, the router
 * and anything outside. A section's files may import each other; no page imports another section's.
 */
function sectionOf(path: string): string | undefined {
  const match = /^functions\/dashboard\/([^/]+?)(\.tsx?|\/.+)$/.exec(path);
  if (!match || path === DASHBOARD_ROUTER || match[1] === 'components' || match[1] === 'assets') return undefined;
  return match[1];
}

const isHono = (specifier: string) => specifier === 'hono' || specifier.startsWith('hono/') || specifier.startsWith('@hono/');

/** Every module a file imports or re-exports: static imports (types too), export … from, and import(…). */
function specifiersOf(source: string): string[] {
  return ts.preProcessFile(source, true, true).importedFiles.map((file) => file.fileName);
}

/** Where a relative specifier leads, as a path from the repository's root. */
const resolveFrom = (file: string, specifier: string) => relative(ROOT, resolve(ROOT, dirname(file), specifier)).split('\\').join('/');

/** Why `file` may not import `specifier` (undefined: it may). */
function brokenRule(file: string, specifier: string): string | undefined {
  const layer = layerOf(file);
  if (!specifier.startsWith('.')) {
    if (file === 'functions/errors.ts' && isHono(specifier)) return 'errors.ts does not import Hono (its handler is http/error-handler.ts)';
    if (layer === 'services' && isHono(specifier)) return 'services never import Hono (@hono/zod-openapi only under services/inputs/)';
    if (layer === 'inputs' && isHono(specifier) && specifier !== '@hono/zod-openapi') return 'services/inputs/ imports no Hono but @hono/zod-openapi';
    return undefined;
  }
  const target = resolveFrom(file, specifier);
  const targetLayer = layerOf(target);
  if ((layer === 'services' || layer === 'inputs') && ['http', 'api', 'dashboard'].includes(targetLayer)) {
    return 'services never import http/, api/ or dashboard/';
  }
  if (layer === 'http' && (targetLayer === 'api' || targetLayer === 'dashboard')) return 'http/ never imports api/ or dashboard/';
  if (layer === 'api' && targetLayer === 'dashboard') return 'api/ never imports dashboard/';
  if (layer === 'api' && targetLayer === 'api' && target !== 'functions/api/responses.ts') {
    return 'an API module imports no other API module but api/responses.ts';
  }
  if (layer === 'dashboard' && targetLayer === 'api') return 'dashboard/ never imports api/';
  const [fromSection, toSection] = [sectionOf(file), sectionOf(target)];
  if (fromSection !== undefined && toSection !== undefined && fromSection !== toSection) return 'a page never imports another page';
  if (layer === 'cli' && target.startsWith('functions/') && targetLayer !== 'services' && targetLayer !== 'inputs') {
    return 'cli/stacker/ takes only services from functions/';
  }
  return undefined;
}

function importViolations(files: Map<string, string>): string[] {
  return [...files].flatMap(([file, source]) =>
    specifiersOf(source).flatMap((specifier) => {
      const rule = brokenRule(file, specifier);
      return rule === undefined ? [] : [`${file} imports '${specifier}': ${rule}`];
    }),
  );
}

const lineCount = (source: string) => source.split('\n').length - (source.endsWith('\n') ? 1 : 0);

function lengthViolations(files: Map<string, string>): string[] {
  return [...files]
    .filter(([file, source]) => file.startsWith('functions/') && lineCount(source) > MAX_LINES)
    .map(([file, source]) => `${file} has ${lineCount(source)} lines (at most ${MAX_LINES})`);
}

function sourcesUnder(dir: string): Array<[string, string]> {
  return readdirSync(join(ROOT, dir), { withFileTypes: true }).flatMap((entry): Array<[string, string]> => {
    const path = `${dir}/${entry.name}`;
    if (entry.isDirectory()) return sourcesUnder(path);
    return /\.tsx?$/.test(entry.name) ? [[path, readFileSync(join(ROOT, path), 'utf8')]] : [];
  });
}

const repository = new Map(SCANNED.flatMap(sourcesUnder));

describe('the layout', () => {
  it('reads the files it checks', () => {
    expect(repository.size).toBeGreaterThan(100);
    expect([...repository.keys()]).toEqual(expect.arrayContaining(['functions/app.ts', 'functions/http/deps.ts', 'cli/stacker/main.ts']));
  });

  it('keeps the import rules', () => {
    expect(importViolations(repository)).toEqual([]);
  });

  it('keeps files under functions/ at most 450 lines', () => {
    expect(lengthViolations(repository)).toEqual([]);
  });

  it('names each broken rule, with the file and the import', () => {
    const broken = new Map([
      ['functions/services/a.ts', "import { Hono } from 'hono';\nimport { z } from '@hono/zod-openapi';"],
      ['functions/services/b.ts', "export { x } from '../http/deps.ts';\nconst later = () => import('../dashboard/admin.tsx');"],
      ['functions/http/c.ts', "import type { T } from '../api/clouds.ts';"],
      ['functions/api/d.ts', "import { CloudForm } from './clouds.ts';\nimport { CommandSchema } from './responses.ts';"],
      ['functions/dashboard/e.tsx', "import { x } from '../api/clouds.ts';\nimport { y } from './servers.tsx';\nimport { z } from './components/page.tsx';"],
      ['functions/errors.ts', "import type { Context } from 'hono';"],
      ['cli/stacker/f.ts', "import type { AppEnv } from '../../functions/http/env.ts';\nimport type { V } from '../../functions/services/deployments.ts';"],
      ['functions/services/inputs/g.ts', "import { z } from '@hono/zod-openapi';\nimport { noNul } from './text.ts';"],
      // A section's folder: its files import each other and components/, never another section.
      ['functions/dashboard/h/index.tsx', "import { form } from './form.tsx';\nimport { DataTable } from '../components/data-table.tsx';\nimport { p } from '../projects.tsx';\nimport { q } from '../builder/app-page.tsx';"],
      ['functions/dashboard/components/i.tsx', "import { r } from '../builder/index.tsx';"],
      // The router mounts every section.
      [DASHBOARD_ROUTER, "import { builderPages } from './builder/index.tsx';\nimport { projectPages } from './projects.tsx';"],
    ]);
    expect(importViolations(broken)).toEqual([
      "functions/services/a.ts imports 'hono': services never import Hono (@hono/zod-openapi only under services/inputs/)",
      "functions/services/a.ts imports '@hono/zod-openapi': services never import Hono (@hono/zod-openapi only under services/inputs/)",
      "functions/services/b.ts imports '../http/deps.ts': services never import http/, api/ or dashboard/",
      "functions/services/b.ts imports '../dashboard/admin.tsx': services never import http/, api/ or dashboard/",
      "functions/http/c.ts imports '../api/clouds.ts': http/ never imports api/ or dashboard/",
      "functions/api/d.ts imports './clouds.ts': an API module imports no other API module but api/responses.ts",
      "functions/dashboard/e.tsx imports '../api/clouds.ts': dashboard/ never imports api/",
      "functions/dashboard/e.tsx imports './servers.tsx': a page never imports another page",
      "functions/errors.ts imports 'hono': errors.ts does not import Hono (its handler is http/error-handler.ts)",
      "cli/stacker/f.ts imports '../../functions/http/env.ts': cli/stacker/ takes only services from functions/",
      "functions/dashboard/h/index.tsx imports '../projects.tsx': a page never imports another page",
      "functions/dashboard/h/index.tsx imports '../builder/app-page.tsx': a page never imports another page",
    ]);
    expect(lengthViolations(new Map([['functions/services/long.ts', 'x\n'.repeat(MAX_LINES + 1)]]))).toEqual([
      `functions/services/long.ts has ${MAX_LINES + 1} lines (at most ${MAX_LINES})`,
    ]);
  });
});
