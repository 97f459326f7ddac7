// The order files start in. Vitest runs every project's files from one queue on maxWorkers slots,
// and keeps a slot's worker (a Node process, or a whole workerd with the module graph loaded) for the
// next file only when that file is of the same project; otherwise the worker is stopped and a new
// one started. So the files are queued project by project (the node journeys, then the workers
// project): each slot changes worker about once, not at every file. Within a project the files known
// to take longest (vitest's per-file figures of a whole run, 2026-12-08) start first, and the rest
// follow in vitest's order.
import { BaseSequencer, type TestSpecification } from 'vitest/node';

const PROJECT_ORDER = ['node', 'workers'];

const LONGEST_FIRST = [
  'tests/node/browser-pages.test.ts',
  'tests/node/stacker-cli.test.ts',
  'tests/node/readme-tour.test.ts',
  'tests/node/deploy-engine.test.ts',
  'tests/node/browser-engine.test.ts',
  'tests/node/stacker-cli-engine.test.ts',
  'tests/node/stacker-cli-templates.test.ts',
  'tests/node/start.test.ts',
  'tests/node/embedded-database.test.ts',
  'tests/node/browser-templates.test.ts',
  'tests/integration/dashboard-matrix.test.ts',
  'tests/integration/dependency-cuts.test.ts',
  'tests/integration/hostile-input.test.ts',
  'tests/integration/dependency-cuts-deployment.test.ts',
  'tests/integration/dependency-failures.test.ts',
  'tests/integration/access-matrix.test.ts',
  'tests/integration/agent-hot-path.test.ts',
  'tests/engine/cloud-engine.test.ts',
];

export default class LongestFirstSequencer extends BaseSequencer {
  override async sort(files: TestSpecification[]): Promise<TestSpecification[]> {
    const sorted = await super.sort(files);
    const block = (spec: TestSpecification) => {
      const index = PROJECT_ORDER.indexOf(spec.project.name);
      return index === -1 ? PROJECT_ORDER.length : index;
    };
    const rank = (spec: TestSpecification) => {
      const index = LONGEST_FIRST.findIndex((path) => spec.moduleId.endsWith(path));
      return index === -1 ? LONGEST_FIRST.length : index;
    };
    return sorted
      .map((spec, position) => ({ spec, position }))
      .sort((a, b) => block(a.spec) - block(b.spec) || rank(a.spec) - rank(b.spec) || a.position - b.position)
      .map(({ spec }) => spec);
  }
}
