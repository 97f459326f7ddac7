// Issue 29 point 13: the caller's address comes from CF-Connecting-IP only when TRUST_CF_CONNECTING_IP
// says the service runs behind Cloudflare (which sets the header itself); elsewhere any client could
// send it, and a new made-up address per request would get a fresh anonymous rate-limit bucket each time.
import { describe, expect, it } from 'vitest';
import { apiWith } from '../helpers/api.ts';

const limitOfOne = (trust?: 'on' | 'off') => ({ RATE_LIMIT_ANONYMOUS_PER_MINUTE: '1', ...(trust && { TRUST_CF_CONNECTING_IP: trust }) });
const randomIp = () => `198.51.100.${Math.floor(Math.random() * 250) + 1}`;
const from = (ip: string) => ({ headers: { 'cf-connecting-ip': ip } });

describe('CF-Connecting-IP', () => {
  it('is ignored by default: a made-up address per request does not escape the anonymous limit', async () => {
    const first = randomIp();
    await apiWith(limitOfOne(), '/whoami', from(first));
    expect((await apiWith(limitOfOne(), '/whoami', from(first))).status).toBe(429);
    // Another claimed address is the same unknown caller: still limited.
    const other = await apiWith(limitOfOne(), '/whoami', from(`2001:db8::${Math.floor(Math.random() * 65_000).toString(16)}`));
    expect(other.status).toBe(429);
    expect(((await other.json()) as { message: string }).message).toContain('this address may send 1 per minute');
  });

  it('names the caller when TRUST_CF_CONNECTING_IP=on (Cloudflare sets it): each address has its own bucket', async () => {
    const first = randomIp();
    expect((await apiWith(limitOfOne('on'), '/whoami', from(first))).status).toBe(200);
    expect((await apiWith(limitOfOne('on'), '/whoami', from(first))).status).toBe(429);
    expect((await apiWith(limitOfOne('on'), '/whoami', from(`2001:db8::${Math.floor(Math.random() * 65_000).toString(16)}`))).status).toBe(200);
  });

  it('refuses a setting that is neither on nor off, naming it', async () => {
    const response = await apiWith({ TRUST_CF_CONNECTING_IP: 'yes' }, '/health_check');
    expect(response.status).toBe(503);
    expect(await response.text()).toContain('TRUST_CF_CONNECTING_IP');
  });
});
