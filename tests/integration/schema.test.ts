import { sql } from 'drizzle-orm';
import { describe, expect, inject, it } from 'vitest';
import { casbinSeedRules } from '../../db/casbin-seed.ts';
import { withDatabase } from '../helpers/db.ts';

// Every table and column of the reference's final schema (reference-api.md §7), written out from the
// spec rather than from db/schema.ts, plus the columns the fixes of §12 add.
const expectedColumns: Record<string, string[]> = {
  product: ['id', 'obj_id', 'obj_type', 'created_at', 'updated_at'],
  rating: ['id', 'user_id', 'obj_id', 'category', 'comment', 'hidden', 'rate', 'created_at', 'updated_at'],
  project: ['id', 'stack_id', 'user_id', 'name', 'metadata', 'created_at', 'updated_at', 'request_json', 'idempotency_key'],
  client: ['id', 'user_id', 'secret', 'created_at', 'updated_at', 'idempotency_key'],
  casbin_rule: ['id', 'ptype', 'v0', 'v1', 'v2', 'v3', 'v4', 'v5'],
  deployment: ['id', 'project_id', 'metadata', 'deleted', 'status', 'created_at', 'updated_at', 'deployment_hash', 'last_seen_at', 'user_id'],
  cloud: ['id', 'user_id', 'provider', 'cloud_token', 'cloud_key', 'cloud_secret', 'save_token', 'created_at', 'updated_at'],
  server: ['id', 'user_id', 'project_id', 'region', 'zone', 'server', 'os', 'disk_type', 'created_at', 'updated_at', 'srv_ip', 'ssh_user', 'ssh_port'],
  agreement: ['id', 'name', 'text', 'created_at', 'updated_at'],
  user_agreement: ['id', 'agrt_id', 'user_id', 'created_at', 'updated_at'],
  agents: ['id', 'deployment_hash', 'capabilities', 'version', 'system_info', 'last_heartbeat', 'status', 'created_at', 'updated_at', 'token_hash'],
  audit_log: ['id', 'agent_id', 'deployment_hash', 'action', 'status', 'details', 'ip_address', 'user_agent', 'created_at'],
  commands: [
    'id', 'command_id', 'deployment_hash', 'type', 'status', 'priority', 'parameters', 'result', 'error', 'created_by',
    'created_at', 'scheduled_for', 'sent_at', 'started_at', 'completed_at', 'timeout_seconds', 'metadata', 'updated_at',
  ],
  command_queue: ['id', 'command_id', 'deployment_hash', 'priority', 'created_at'],
};

interface ColumnRow extends Record<string, unknown> {
  table_name: string;
  column_name: string;
  data_type: string;
  is_nullable: string;
}

describe('schema after migrating', () => {
  it('has every table and column the spec lists', async () => {
    const rows = await withDatabase(async (db) => {
      const result = await db.execute<ColumnRow>(sql`
        select table_name, column_name, data_type, is_nullable from information_schema.columns
        where table_schema = 'public'`);
      return result.rows;
    });
    for (const [table, columns] of Object.entries(expectedColumns)) {
      const present = rows.filter((row) => row.table_name === table).map((row) => row.column_name);
      expect(present, `table ${table}`).toEqual(expect.arrayContaining(columns));
    }
  });

  it('has the rate_category enum with the reference labels', async () => {
    const labels = await withDatabase(async (db) => {
      const result = await db.execute<{ label: string }>(sql`
        select e.enumlabel as label from pg_enum e join pg_type t on t.oid = e.enumtypid
        where t.typname = 'rate_category' order by e.enumsortorder`);
      return result.rows.map((row) => row.label);
    });
    expect(labels).toEqual([
      'application', 'cloud', 'project', 'deploymentSpeed', 'documentation', 'design', 'techSupport', 'price', 'memoryUsage',
    ]);
  });

  it('applies the schema fixes: secrets fit in text columns, audit_log is timezone-aware, agents keep no token', async () => {
    const rows = await withDatabase(async (db) => {
      const result = await db.execute<ColumnRow>(sql`
        select table_name, column_name, data_type, is_nullable from information_schema.columns
        where table_schema = 'public' and table_name in ('cloud', 'audit_log', 'agents', 'client')`);
      return result.rows;
    });
    const type = (table: string, column: string) =>
      rows.find((row) => row.table_name === table && row.column_name === column)?.data_type;
    expect(type('cloud', 'cloud_token')).toBe('text');
    expect(type('cloud', 'cloud_secret')).toBe('text');
    expect(type('client', 'secret')).toBe('text');
    expect(type('audit_log', 'created_at')).toBe('timestamp with time zone');
    expect(rows.some((row) => row.table_name === 'agents' && row.column_name === 'token')).toBe(false);
  });

  it('deleting a project that has deployments, agents and commands works (cascade)', async () => {
    const remaining = await withDatabase(async (db) => {
      return db.transaction(async (tx) => {
        const project = await tx.execute<{ id: number }>(sql`
          insert into project (stack_id, user_id, name, metadata) values (gen_random_uuid(), 'schema-test', 'p', '{}') returning id`);
        const projectId = project.rows[0]!.id;
        const hash = `deployment_schema_test_${projectId}`;
        await tx.execute(sql`insert into deployment (project_id, metadata, status, deployment_hash) values (${projectId}, '{}', 'pending', ${hash})`);
        await tx.execute(sql`insert into agents (deployment_hash) values (${hash})`);
        await tx.execute(sql`insert into commands (command_id, deployment_hash, type, created_by) values (${`cmd-${hash}`}, ${hash}, 'health', 'u')`);
        await tx.execute(sql`insert into command_queue (command_id, deployment_hash) values (${`cmd-${hash}`}, ${hash})`);
        await tx.execute(sql`delete from project where id = ${projectId}`);
        const left = await tx.execute<{ n: number }>(sql`
          select (select count(*) from deployment where deployment_hash = ${hash})
               + (select count(*) from agents where deployment_hash = ${hash})
               + (select count(*) from commands where deployment_hash = ${hash})
               + (select count(*) from command_queue where deployment_hash = ${hash}) as n`);
        return Number(left.rows[0]!.n);
      });
    });
    expect(remaining).toBe(0);
  });

  it('refuses accepting the same agreement twice (unique user_id, agrt_id)', async () => {
    await expect(
      withDatabase((db) =>
        db.transaction(async (tx) => {
          const agreement = await tx.execute<{ id: number }>(sql`insert into agreement (name, text) values ('tos', 'text') returning id`);
          const id = agreement.rows[0]!.id;
          await tx.execute(sql`insert into user_agreement (agrt_id, user_id) values (${id}, 'u1')`);
          await tx.execute(sql`insert into user_agreement (agrt_id, user_id) values (${id}, 'u1')`);
        }),
      ),
    ).rejects.toThrow();
  });
});

describe('casbin seed', () => {
  it('seeds exactly the corrected rule set', async () => {
    // Read from the second test database, which no test adds rules to (error-envelope.test.ts adds
    // test-only rules to the shared one, possibly while this runs).
    const rows = await withDatabase(async (db) => {
      const result = await db.execute<{ ptype: string; v0: string; v1: string; v2: string; v3: string }>(
        sql`select ptype, v0, v1, v2, v3 from casbin_rule order by id`,
      );
      return result.rows;
    }, inject('isolatedDatabaseUrl'));
    expect(rows).toHaveLength(108);
    expect(rows.map((row) => [row.ptype, row.v0, row.v1, row.v2])).toEqual(casbinSeedRules.map((rule) => [...rule]));
    expect(rows.every((row) => row.v3 === '')).toBe(true);
  });

  it('contains the rules the spec fixes and none of the rules it removes', async () => {
    const rules = await withDatabase(async (db) => {
      const result = await db.execute<{ rule: string }>(sql`select concat_ws(' ', ptype, v0, v1, v2) as rule from casbin_rule`);
      return new Set(result.rows.map((row) => row.rule.trim()));
    });
    // kept from the reference
    expect(rules).toContain('p group_anonymous /health_check GET');
    expect(rules).toContain('p group_user /project/:id DELETE');
    expect(rules).toContain('p agent /api/v1/agent/commands/wait/:deployment_hash GET');
    // added (§4.3, §12.6, §12.7)
    expect(rules).toContain('g group_admin group_user');
    expect(rules).toContain('p group_user /server/:id DELETE');
    expect(rules).toContain('p group_admin /admin/project/:id/compose GET');
    expect(rules).toContain('p client /test/deploy POST');
    // removed: handler-less rules, and users reaching agent-only endpoints
    expect(rules).not.toContain('p group_user /project/:id POST');
    expect(rules).not.toContain('p group_user /server POST');
    expect(rules).not.toContain('p group_user /api/v1/agent/commands/wait/:deployment_hash GET');
    expect(rules).not.toContain('p client /api/v1/agent/commands/report POST');
  });
});
