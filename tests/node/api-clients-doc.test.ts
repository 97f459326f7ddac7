// docs/api-clients.md: its test vector is what the service's own signing code computes, and its
// signing example (run as written) gives the same stacker-hash.
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { clientRequestSignature } from '../../functions/services/client-signature.ts';
import { hmacKey } from '../../functions/services/crypto.ts';

const doc = readFileSync('docs/api-clients.md', 'utf8');

function between(name: string): string {
  const match = new RegExp(`<!-- ${name}:start -->\\n\`\`\`\\w*\\n([\\s\\S]*?)\`\`\`\\n<!-- ${name}:end -->`).exec(doc);
  if (!match) throw new Error(`docs/api-clients.md has no ${name} block`);
  return match[1]!;
}

const vector = Object.fromEntries(
  between('test-vector')
    .trimEnd()
    .split('\n')
    .map((line) => {
      const match = /^(secret|method|path with query|stacker-timestamp|stacker-nonce|body SHA-256|body|stacker-hash)\s+(.*)$/.exec(line);
      if (!match) throw new Error(`test vector line not understood: ${line}`);
      return [match[1]!, match[2]!];
    }),
) as Record<'secret' | 'method' | 'path with query' | 'stacker-timestamp' | 'stacker-nonce' | 'body' | 'body SHA-256' | 'stacker-hash', string>;

describe('docs/api-clients.md', () => {
  it("has a test vector the service's signing code agrees with", async () => {
    expect(createHash('sha256').update(vector.body).digest('hex')).toBe(vector['body SHA-256']);
    const signature = await clientRequestSignature(await hmacKey(vector.secret), {
      method: vector.method,
      pathWithQuery: vector['path with query'],
      timestamp: vector['stacker-timestamp'],
      nonce: vector['stacker-nonce'],
      body: new TextEncoder().encode(vector.body),
    });
    expect(signature).toBe(vector['stacker-hash']);
  });

  it('has a ten-line signing example that gives the vector when run', async () => {
    const example = between('signing-example');
    expect(example.trimEnd().split('\n')).toHaveLength(10);
    const signedHeaders = new Function(`${example}\nreturn signedHeaders;`)() as (...args: unknown[]) => Promise<Record<string, string>>;
    const headers = await signedHeaders(12, vector.secret, vector.method, vector['path with query'], vector.body, Number(vector['stacker-timestamp']), vector['stacker-nonce']);
    expect(headers).toEqual({
      'stacker-id': '12',
      'stacker-timestamp': vector['stacker-timestamp'],
      'stacker-nonce': vector['stacker-nonce'],
      'stacker-hash': vector['stacker-hash'],
    });
  });
});
