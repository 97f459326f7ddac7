// AgentTokenVault on HashiCorp Vault's KV HTTP API, through the node-vault client (axios-based; it
// runs inside workerd under nodejs_compat: tests/integration/agent-rotation.test.ts proves it).
//
// Paths: {VAULT_AGENT_PATH_PREFIX}/{deployment_hash}/{key} for every key of VAULT_AGENT_TOKEN_KEYS
// (`token` where the reference writes and older agents read, `status_panel_token` where the current
// agent reads). Body and response are the KV v2 shapes the reference and the agent use
// (agent-protocol.md §1.10): write `{"data":{"token","deployment_hash"}}`, read `data.data.token`.
//
// Neither the agent token nor the Vault token may reach a log or an error message: node-vault's own
// debug output is switched off, and its errors (whose axios config carries both) are never passed on,
// only a description made here of what went wrong.
import vault from 'node-vault';
import { z } from 'zod';
import { requireSetting, type Config } from '../config.ts';
import { VaultUnavailableError, type AgentTokenVault } from './vault.ts';

export const DEFAULT_VAULT_TIMEOUT_MS = 5_000;

export interface KvAgentTokenVaultOptions {
  /** VAULT_ADDRESS, e.g. https://vault.example.com:8200 (the client adds /v1). */
  address: string;
  /** VAULT_TOKEN, sent as X-Vault-Token. */
  vaultToken: string;
  /** VAULT_AGENT_PATH_PREFIX, e.g. `agent` (KV v1 mount) or `secret/data/agent` (KV v2 mount). */
  pathPrefix: string;
  /** VAULT_AGENT_TOKEN_KEYS: the token is written under each; read from the first. */
  keys: readonly string[];
  /** Per call; a Vault that does not answer in time is unavailable. */
  timeoutMs?: number;
}

/** A deployment hash as it may appear in a Vault path: one plain segment. */
const pathSegment = z
  .string()
  .min(1)
  .max(64)
  .regex(/^[\w.-]+$/, 'must be letters, digits, "_", "." or "-"')
  .refine((value) => value !== '.' && value !== '..', 'must not be "." or ".."');
const keyName = z.string().regex(/^[A-Za-z0-9_-]+$/);

/** What a KV read answers (v1 mount holding a `data` object, or v2): the token at data.data.token. */
const readResponse = z.object({ data: z.object({ data: z.object({ token: z.string().min(1) }) }) });

const noDebug = () => undefined;

export function kvAgentTokenVault(options: KvAgentTokenVaultOptions): AgentTokenVault {
  const timeoutMs = options.timeoutMs ?? DEFAULT_VAULT_TIMEOUT_MS;
  const prefix = options.pathPrefix.replace(/^\/+|\/+$/g, '');
  const keys = z.array(keyName).min(1).parse([...options.keys]);
  const client = vault({
    apiVersion: 'v1',
    endpoint: options.address,
    token: options.vaultToken,
    noCustomHTTPVerbs: true,
    debug: noDebug,
    requestOptions: { timeout: timeoutMs },
  });

  const pathsOf = (deploymentHash: string): string[] => {
    const parsed = pathSegment.safeParse(deploymentHash);
    if (!parsed.success) throw new TypeError('deployment_hash is not usable as a Vault path segment');
    return keys.map((key) => `${prefix ? `${prefix}/` : ''}${parsed.data}/${key}`);
  };

  /** Runs one node-vault call with our own deadline too, so a stalled socket cannot hold a request. */
  const call = async <T>(operation: string, path: string, run: () => Promise<T>): Promise<T> => {
    let timer: ReturnType<typeof setTimeout> | undefined;
    const deadline = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new VaultUnavailableError(`Vault did not answer ${operation} ${path} within ${timeoutMs} ms`)), timeoutMs + 250);
    });
    try {
      return await Promise.race([run(), deadline]);
    } catch (error) {
      if (error instanceof VaultUnavailableError) throw error;
      throw describeVaultFailure(error, operation, path, timeoutMs);
    } finally {
      clearTimeout(timer);
    }
  };

  return {
    async store(deploymentHash, token) {
      // One key after the other: when Vault fails midway, the error says where.
      for (const path of pathsOf(deploymentHash)) {
        await call('write', path, () => client.write(path, { data: { token, deployment_hash: deploymentHash } }));
      }
    },

    async read(deploymentHash) {
      const path = pathsOf(deploymentHash)[0]!;
      let body: unknown;
      try {
        body = await call('read', path, () => client.read(path));
      } catch (error) {
        if (error instanceof VaultStatusError && error.status === 404) return undefined;
        throw error;
      }
      const parsed = readResponse.safeParse(body);
      // A secret without a token string is no token (the agent could not use it either).
      return parsed.success ? parsed.data.data.data.token : undefined;
    },

    async remove(deploymentHash) {
      for (const path of pathsOf(deploymentHash)) {
        try {
          await call('delete', path, () => client.delete(path));
        } catch (error) {
          if (error instanceof VaultStatusError && error.status === 404) continue;
          throw error;
        }
      }
    },
  };
}

/** A Vault answer with a status other than 200/204 (404 is "no secret here" for read and delete). */
class VaultStatusError extends VaultUnavailableError {
  readonly status: number;
  constructor(message: string, status: number) {
    super(message);
    this.status = status;
  }
}

/** Turns whatever node-vault/axios threw into an error that names Vault and never a token. */
function describeVaultFailure(error: unknown, operation: string, path: string, timeoutMs: number): VaultUnavailableError {
  const status = (error as { response?: { statusCode?: unknown } } | null)?.response?.statusCode;
  if (typeof status === 'number') {
    if (status === 404) return new VaultStatusError(`Vault has no secret at ${path}`, 404);
    if (status === 401 || status === 403) {
      return new VaultStatusError(`Vault refused ${operation} ${path} (HTTP ${status}): check VAULT_TOKEN and its policy`, status);
    }
    return new VaultStatusError(`Vault answered HTTP ${status} to ${operation} ${path}`, status);
  }
  const code = (error as { code?: unknown } | null)?.code;
  if (code === 'ECONNABORTED' || code === 'ETIMEDOUT' || (error instanceof Error && /timeout/i.test(error.message))) {
    return new VaultUnavailableError(`Vault did not answer ${operation} ${path} within ${timeoutMs} ms`);
  }
  const reason = typeof code === 'string' && /^[A-Z_]{2,40}$/.test(code) ? code : 'network error';
  return new VaultUnavailableError(`Vault is unreachable (${reason}) for ${operation} ${path}`);
}

/** The Vault of the configuration; VAULT_ADDRESS and VAULT_TOKEN are required (ConfigError, 503). */
export function vaultFromConfig(config: Config, overrides: Pick<KvAgentTokenVaultOptions, 'timeoutMs'> = {}): AgentTokenVault {
  return kvAgentTokenVault({
    address: requireSetting(config, 'VAULT_ADDRESS'),
    vaultToken: requireSetting(config, 'VAULT_TOKEN'),
    pathPrefix: config.VAULT_AGENT_PATH_PREFIX,
    keys: config.VAULT_AGENT_TOKEN_KEYS,
    ...overrides,
  });
}
