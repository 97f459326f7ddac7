// What a saved cloud key can create: the provider's server types with their prices, its locations
// and its system images, read with the user's key (the deploy form and `stacker clouds`), and kept a
// few minutes per key in the isolate so a form that is opened again does not call the provider again.
import { ApiError } from '../errors.ts';
import { CloudProviderError, cloudErrorAsApiError, cloudProviderFor, isCloudProviderCode, type CloudProviderSettings, type ProviderCatalog } from './cloud-providers/index.ts';
import { cloudCredentials, cloudProviderOf, type CloudDeps } from './clouds.ts';
import { sha256Hex } from './crypto.ts';
import type { Scope } from './scope.ts';

export const OFFERS_CACHE_MS = 5 * 60_000;
const MAX_CACHED = 200;

export interface CloudOffers extends ProviderCatalog {
  provider: string;
  label: string;
  /** When the provider was asked (ISO 8601): answers are kept OFFERS_CACHE_MS. */
  fetched_at: string;
}

/** Keyed by a hash of provider and token: a replaced key is asked afresh, and no token is kept here. */
const cache = new Map<string, { at: number; offers: CloudOffers }>();

export async function cloudOffers(deps: CloudDeps & { settings: CloudProviderSettings; now?: () => number }, cloudId: number, scope: Scope): Promise<CloudOffers> {
  const credentials = await cloudCredentials(deps, cloudId, scope);
  const label = cloudProviderOf(credentials.provider)?.label ?? credentials.provider;
  if (!isCloudProviderCode(credentials.provider)) throw new ApiError(422, `Stacker does not list the offers of ${label}; it does for Hetzner Cloud (htz) and DigitalOcean (do)`);
  if (!credentials.cloudToken) throw new ApiError(422, 'This saved cloud has no token: save the key again with its token');
  const now = deps.now?.() ?? Date.now();
  const key = await sha256Hex(`${credentials.provider}:${credentials.cloudToken}`);
  const hit = cache.get(key);
  if (hit && now - hit.at < OFFERS_CACHE_MS) return hit.offers;
  const provider = cloudProviderFor(credentials.provider, credentials.cloudToken, deps.settings);
  try {
    const [types, locations, images] = await Promise.all([provider.listServerTypes(), provider.listLocations(), provider.listImages()]);
    const offers: CloudOffers = { provider: credentials.provider, label: provider.label, types, locations, images, fetched_at: new Date(now).toISOString() };
    if (cache.size >= MAX_CACHED) cache.delete(cache.keys().next().value!);
    cache.set(key, { at: now, offers });
    return offers;
  } catch (error) {
    if (error instanceof CloudProviderError) throw cloudErrorAsApiError(provider.label, error);
    throw error;
  }
}
