// Agent tokens in HashiCorp Vault (KV), where provisioning and the agent read them.
// The database keeps only a hash of each token; Vault is written on registration and rotation.

export interface AgentTokenVault {
  /** Writes the token under every configured key of the deployment. Throws VaultUnavailableError. */
  store(deploymentHash: string, token: string): Promise<void>;
  /** The token stored for the deployment (first configured key), or undefined. Throws VaultUnavailableError. */
  read(deploymentHash: string): Promise<string | undefined>;
  /** Removes the token under every configured key (best effort: missing keys are fine). */
  remove(deploymentHash: string): Promise<void>;
}

export class VaultUnavailableError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'VaultUnavailableError';
  }
}
