// The order files start in. Vitest's own sequencer runs projects one after the other ("node" before
// "workers"), so the longest workers files would start last and end the run alone. Here the files
// known to take longest (vitest's per-file figures of a whole run, 2026-12-07) start first, whatever
// their project, and the rest follow in vitest's order.
import { BaseSequencer, type TestSpecification } from 'vitest/node';

const LONGEST_FIRST = [
  'tests/node/stacker-cli.test.ts',
  'tests/node/readme-tour.test.ts',
  'tests/node/browser-pages.test.ts',
  'tests/node/deploy-engine.test.ts',
  'tests/integration/dependency-cuts-deployment.test.ts',
  'tests/integration/dependency-cuts.test.ts',
  'tests/node/stacker-cli-engine.test.ts',
  'tests/node/start.test.ts',
  'tests/integration/hostile-input.test.ts',
  'tests/integration/dashboard-matrix.test.ts',
  'tests/node/browser-engine.test.ts',
  'tests/node/stacker-cli-templates.test.ts',
  'tests/integration/dependency-failures.test.ts',
  'tests/node/console-rotate.test.ts',
  'tests/integration/access-matrix.test.ts',
  'tests/node/browser-templates.test.ts',
  'tests/node/console.test.ts',
];

export default class LongestFirstSequencer extends BaseSequencer {
  override async sort(files: TestSpecification[]): Promise<TestSpecification[]> {
    const sorted = await super.sort(files);
    const rank = (spec: TestSpecification) => {
      const index = LONGEST_FIRST.findIndex((path) => spec.moduleId.endsWith(path));
      return index === -1 ? LONGEST_FIRST.length : index;
    };
    return sorted.map((spec, position) => ({ spec, position })).sort((a, b) => rank(a.spec) - rank(b.spec) || a.position - b.position).map(({ spec }) => spec);
  }
}
