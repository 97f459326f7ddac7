// Docker Hub passwords of a project's apps (`dockerhub_password`, for private images): sealed with
// SECURITY_KEY (AES-256-GCM, as cloud keys are) in the project's metadata, as `sealed:v1:<base64>`;
// the stored request keeps none. They are opened only for what needs them: the image check at Docker
// Hub and the install service's job. Answers never carry them (project-form.ts redacts every
// password key). A row an earlier version stored in clear is read as it is and sealed when next written.
import { ApiError } from '../errors.ts';
import { decryptSecret, encryptSecret } from './crypto.ts';

export const SEALED_PASSWORD_PREFIX = 'sealed:v1:';
const LISTS = ['web', 'service', 'feature'] as const;

interface AppWithPassword {
  dockerhub_password?: string | null;
}
type AppsOf = { custom: { [list in (typeof LISTS)[number]]?: unknown } };

function appsOf(metadata: AppsOf): AppWithPassword[] {
  return LISTS.flatMap((list) => {
    const apps = metadata.custom?.[list];
    return Array.isArray(apps) ? (apps.filter((app) => app !== null && typeof app === 'object') as AppWithPassword[]) : [];
  });
}

const isSealed = (value: string) => value.startsWith(SEALED_PASSWORD_PREFIX);
const noKey = () => new ApiError(503, 'SECURITY_KEY is not set: Stacker cannot keep or use Docker Hub passwords');

/**
 * Seals the passwords of `metadata` in place. `given`: every password is the caller's own text (a form
 * just sent), sealed whatever it looks like; `stored`: only those still in clear (kept from a row an
 * earlier version wrote) are sealed, sealed ones stay.
 */
export async function sealDockerHubPasswords<T extends AppsOf>(metadata: T, securityKey: Uint8Array | undefined, which: 'given' | 'stored'): Promise<T> {
  for (const app of appsOf(metadata)) {
    const value = app.dockerhub_password;
    if (typeof value !== 'string' || value === '' || (which === 'stored' && isSealed(value))) continue;
    if (!securityKey) throw noKey();
    app.dockerhub_password = `${SEALED_PASSWORD_PREFIX}${await encryptSecret(securityKey, value)}`;
  }
  return metadata;
}

/** A copy of `metadata` with every password opened, for the image check and the install service's job. */
export async function openDockerHubPasswords<T extends AppsOf>(metadata: T, securityKey: Uint8Array | undefined): Promise<T> {
  const copy = structuredClone(metadata);
  for (const app of appsOf(copy)) {
    const value = app.dockerhub_password;
    if (typeof value !== 'string' || !isSealed(value)) continue;
    if (!securityKey) throw noKey();
    try {
      app.dockerhub_password = await decryptSecret(securityKey, value.slice(SEALED_PASSWORD_PREFIX.length));
    } catch {
      throw new ApiError(422, "A Docker Hub password of this project was sealed with another SECURITY_KEY: give it again in the project's form");
    }
  }
  return copy;
}

/** The request as sent, without its Docker Hub passwords (the metadata keeps them, sealed), to store. */
export function withoutDockerHubPasswords(raw: unknown): Record<string, unknown> {
  if (raw === null || typeof raw !== 'object') return raw as Record<string, unknown>;
  const copy = structuredClone(raw) as AppsOf;
  if (copy.custom && typeof copy.custom === 'object') for (const app of appsOf(copy)) delete app.dockerhub_password;
  return copy as unknown as Record<string, unknown>;
}
