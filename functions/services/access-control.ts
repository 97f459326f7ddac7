// Casbin with the reference's model (RBAC, keyMatch2 paths); rules come from the casbin_rule table.
import { newEnforcer, newModelFromString, type Enforcer } from 'casbin';
import { casbinRule } from '../../db/schema.ts';
import { isDatabaseUnavailable, type AnyDatabase } from '../../db/client.ts';
import { log } from '../logger.ts';

export const CASBIN_MODEL = `
[request_definition]
r = sub, obj, act

[policy_definition]
p = sub, obj, act

[role_definition]
g = _, _

[policy_effect]
e = some(where (p.eft == allow))

[matchers]
m = g(r.sub, p.sub) && keyMatch2(r.obj, p.obj) && r.act == p.act
`;

/** How long an isolate trusts its copy of the rules before reading the table again. */
export const RULES_TTL_MS = 30_000;

export interface AccessDecision {
  allowed: boolean;
  /** The policy that allowed the request: [subject, path pattern, method]. */
  matchedRule?: string[];
}

export interface RuleRow {
  ptype: string;
  v0: string;
  v1: string;
  v2: string;
}

export async function buildEnforcer(rules: RuleRow[]): Promise<Enforcer> {
  const enforcer = await newEnforcer(newModelFromString(CASBIN_MODEL));
  const policies = rules.filter((rule) => rule.ptype === 'p').map((rule) => [rule.v0, rule.v1, rule.v2]);
  const groupings = rules.filter((rule) => rule.ptype === 'g').map((rule) => [rule.v0, rule.v1]);
  if (policies.length) await enforcer.addPolicies(policies);
  if (groupings.length) await enforcer.addGroupingPolicies(groupings);
  return enforcer;
}

export async function loadRules(db: AnyDatabase): Promise<RuleRow[]> {
  return db
    .select({ ptype: casbinRule.ptype, v0: casbinRule.v0, v1: casbinRule.v1, v2: casbinRule.v2 })
    .from(casbinRule)
    .orderBy(casbinRule.id);
}

export async function decide(enforcer: Enforcer, subject: string, path: string, method: string): Promise<AccessDecision> {
  if (!subject) return { allowed: false };
  const [allowed, explanation] = await enforcer.enforceEx(subject, path, method);
  return allowed ? { allowed, matchedRule: explanation } : { allowed };
}

/** Decisions remembered per enforcer (so for the rules' life, RULES_TTL_MS) before the oldest are dropped. */
export const MAX_REMEMBERED_DECISIONS = 10_000;
const decisionsByEnforcer = new WeakMap<Enforcer, Map<string, AccessDecision>>();

/**
 * decide, remembered per enforcer and (subject, path, method): the enforcer is plain data, so the
 * same question gets the same answer until the rules are read again (a new enforcer, a new memory).
 * Casbin's enforceEx costs ~0.5 ms of CPU per call (89 rules, keyMatch2 over each); a remembered
 * answer costs a Map lookup. Bounded: past MAX_REMEMBERED_DECISIONS the oldest entry goes.
 */
export async function decideCached(enforcer: Enforcer, subject: string, path: string, method: string): Promise<AccessDecision> {
  let decisions = decisionsByEnforcer.get(enforcer);
  if (!decisions) decisionsByEnforcer.set(enforcer, (decisions = new Map()));
  const key = `${subject}\u0000${method}\u0000${path}`;
  const known = decisions.get(key);
  if (known) return known;
  const decision = await decide(enforcer, subject, path, method);
  if (decisions.size >= MAX_REMEMBERED_DECISIONS) decisions.delete(decisions.keys().next().value!);
  decisions.set(key, decision);
  return decision;
}

// Per isolate: the enforcer is plain data (the model and the rules), refreshed after RULES_TTL_MS.
let cached: { enforcer: Enforcer; loadedAt: number } | undefined;
let loading: Promise<Enforcer> | undefined;

/**
 * `database` may be a function: it is called only when the rules must be read, so a request answered
 * from the cached rules opens no database handle.
 */
export async function cachedEnforcer(database: AnyDatabase | (() => AnyDatabase), now = Date.now()): Promise<Enforcer> {
  if (cached && now - cached.loadedAt < RULES_TTL_MS) return cached.enforcer;
  // One request reads the rules again; meanwhile the others go on with the last rules read rather
  // than all waiting on that read (up to the driver's 10 s connect when the database is slow).
  if (cached && loading) return cached.enforcer;
  const db = typeof database === 'function' ? database() : database;
  const refresh = (loading ??= loadRules(db)
    .then(buildEnforcer)
    .then((enforcer) => {
      cached = { enforcer, loadedAt: Date.now() };
      return enforcer;
    })
    .finally(() => {
      loading = undefined;
    }));
  const stale = cached;
  if (!stale) return refresh;
  try {
    return await refresh;
  } catch (error) {
    // With the database down, the last rules read are better than refusing routes that need no
    // database (the document, /whoami); the routes that do need it answer 503 themselves.
    if (!isDatabaseUnavailable(error)) throw error;
    log('warn', 'casbin rules not refreshed: database unavailable; using the last rules read', { ageMs: now - stale.loadedAt });
    return stale.enforcer;
  }
}

/** Forget the cached rules (after the console or an admin changes casbin_rule). */
export function invalidateRules(): void {
  cached = undefined;
}
