import { env } from 'cloudflare:test';
import { describe, expect, it } from 'vitest';
import { durableDoorbell } from '../../functions/services/doorbell.ts';

const doorbell = durableDoorbell(env.DEPLOYMENT_DOORBELL);
const hash = () => `deployment_${crypto.randomUUID()}`;

describe('per-deployment doorbell (Durable Object)', () => {
  it('wakes every listener of the topic on a ring', async () => {
    const deployment = hash();
    const first = await doorbell.listen(deployment, 'status', 10_000);
    const second = await doorbell.listen(deployment, 'status', 10_000);
    await doorbell.ring(deployment, 'status');
    expect(await first.rung).toBe(true);
    expect(await second.rung).toBe(true);
    first.close();
    second.close();
  });

  it('does not wake listeners of another topic or another deployment', async () => {
    const deployment = hash();
    const commands = await doorbell.listen(deployment, 'commands', 300);
    const elsewhere = await doorbell.listen(hash(), 'status', 300);
    await doorbell.ring(deployment, 'status');
    expect(await commands.rung).toBe(false);
    expect(await elsewhere.rung).toBe(false);
    commands.close();
    elsewhere.close();
  });

  it('times out with false when nobody rings', async () => {
    const listener = await doorbell.listen(hash(), 'status', 200);
    expect(await listener.rung).toBe(false);
    listener.close();
  });

  it('a newer wait of the same waiter ends the older one; an older one is refused; other waiters are untouched', async () => {
    const deployment = hash();
    const older = await doorbell.listen(deployment, 'commands', 10_000, { waiter: 'agent-a', arrival: 1_000 });
    const other = await doorbell.listen(deployment, 'commands', 10_000, { waiter: 'agent-b', arrival: 1_000 });
    const newer = await doorbell.listen(deployment, 'commands', 10_000, { waiter: 'agent-a', arrival: 2_000 });
    expect(await older.rung).toBe(false);
    expect(older.superseded).toBe(true);

    const late = await doorbell.listen(deployment, 'commands', 10_000, { waiter: 'agent-a', arrival: 1_500 });
    expect(late.superseded).toBe(true);
    expect(await late.rung).toBe(false);

    await doorbell.ring(deployment, 'commands');
    expect(await newer.rung).toBe(true);
    expect(await other.rung).toBe(true);
    expect(newer.superseded || other.superseded).toBe(false);
    for (const listener of [older, other, newer, late]) listener.close();
  });

  it('a ring with nobody listening is harmless', async () => {
    await expect(doorbell.ring(hash(), 'commands')).resolves.toBeUndefined();
  });
});
