import { describe, expect, it } from 'vitest';
import { casbinSeedRules } from '../../db/casbin-seed.ts';
import { buildEnforcer, decide, decideCached } from '../../functions/services/access-control.ts';

const seedRows = casbinSeedRules.map(([ptype, v0, v1, v2]) => ({ ptype, v0, v1, v2 }));

describe('casbin decisions remembered per enforcer', () => {
  it('answers as the enforcer does, allowed or not, the first time and from memory', async () => {
    const enforcer = await buildEnforcer(seedRows);
    const questions: Array<[string, string, string]> = [
      ['group_user', '/whoami', 'GET'],
      ['anonym', '/client', 'POST'],
      ['agent', '/api/v1/agent/commands/wait/abc', 'GET'],
      ['client', '/admin/client/1', 'PUT'],
      ['', '/health_check', 'GET'],
    ];
    for (const [subject, path, method] of questions) {
      const expected = await decide(enforcer, subject, path, method);
      expect(await decideCached(enforcer, subject, path, method)).toEqual(expected);
      expect(await decideCached(enforcer, subject, path, method)).toEqual(expected);
    }
  });

  it('a new enforcer (the rules read again) answers from its own rules, not from the old memory', async () => {
    const allowing = await buildEnforcer([...seedRows, { ptype: 'p', v0: 'group_anonymous', v1: '/client', v2: 'POST' }]);
    expect((await decideCached(allowing, 'anonym', '/client', 'POST')).allowed).toBe(true);
    const seeded = await buildEnforcer(seedRows);
    expect((await decideCached(seeded, 'anonym', '/client', 'POST')).allowed).toBe(false);
  });
});
