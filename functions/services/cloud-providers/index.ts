// The cloud providers Stacker creates servers on, chosen by the cloud key's provider code (`htz`,
// `do`, as services/clouds.ts's CLOUD_PROVIDERS has them), with the API bases from the settings.
import { ApiError } from '../../errors.ts';
import { trimDashes } from '../inputs/text.ts';
import { DIGITALOCEAN_DEFAULT_API_URL, digitalOceanProvider } from './digitalocean.ts';
import { HETZNER_DEFAULT_API_URL, hetznerProvider } from './hetzner.ts';
import { CloudProviderError, type CloudProvider, type CloudProviderCode, type ImageOffer, type LocationOffer, type ProviderOptions, type ServerTypeOffer } from './provider.ts';

export * from './provider.ts';
export { deploymentTag } from './digitalocean.ts';
export { DIGITALOCEAN_DEFAULT_API_URL, HETZNER_DEFAULT_API_URL };

export const CLOUD_PROVIDER_CODES: readonly CloudProviderCode[] = ['htz', 'do'];

export const isCloudProviderCode = (code: string): code is CloudProviderCode => (CLOUD_PROVIDER_CODES as readonly string[]).includes(code);

/** The settings that name the providers' API bases (config.ts). */
export interface CloudProviderSettings {
  HETZNER_API_URL?: string;
  DIGITALOCEAN_API_URL?: string;
}

/** The adapter for a provider code, with the user's token; options as ProviderOptions (sleep, clock, stats...). */
export function cloudProviderFor(
  code: CloudProviderCode,
  token: string,
  settings: CloudProviderSettings,
  options: Omit<ProviderOptions, 'baseUrl' | 'token'> = {},
): CloudProvider {
  if (code === 'htz') return hetznerProvider({ ...options, token, baseUrl: settings.HETZNER_API_URL ?? HETZNER_DEFAULT_API_URL });
  return digitalOceanProvider({ ...options, token, baseUrl: settings.DIGITALOCEAN_API_URL ?? DIGITALOCEAN_DEFAULT_API_URL });
}

/**
 * A hostname both providers take (letters, digits and `-`, at most 63 characters): the project's name
 * made safe, then the start of the deployment hash's random part so two deployments differ.
 */
export function serverNameFor(project: string, deploymentHash: string): string {
  const suffix = deploymentHash.replace(/^deployment_/, '').replace(/[^a-z0-9]/gi, '').toLowerCase().slice(0, 8) || 'server';
  const base =
    project
      .normalize('NFKD')
      .replace(/[\u0300-\u036f]/g, '')
      .toLowerCase()
      .replace(/[^a-z0-9]+/g, '-');
  return `${trimDashes(trimDashes(base).slice(0, 63 - suffix.length - 1)) || 'stacker'}-${suffix}`;
}

export interface ServerChoice {
  type: string;
  location: string;
  image: string;
}

export interface ProviderCatalog {
  types: ServerTypeOffer[];
  locations: LocationOffer[];
  images: ImageOffer[];
}

/**
 * Why a choice cannot be created, in a sentence naming what the provider does offer, or null when it
 * can: checked before anything is created.
 */
export function whatIsNotOffered(label: string, choice: ServerChoice, catalog: ProviderCatalog): { field: keyof ServerChoice; message: string } | null {
  const list = (names: string[]) => (names.length ? names.slice(0, 12).join(', ') + (names.length > 12 ? ', …' : '') : 'none');
  const location = catalog.locations.find((entry) => entry.name === choice.location);
  if (!location) return { field: 'location', message: `${label} has no location ${choice.location}; it offers ${list(catalog.locations.map((entry) => entry.name))}` };
  const type = catalog.types.find((entry) => entry.name === choice.type);
  if (!type) return { field: 'type', message: `${label} offers no server type ${choice.type}; it offers ${list(catalog.types.map((entry) => entry.name))}` };
  if (!type.prices.some((entry) => entry.location === choice.location)) {
    return { field: 'type', message: `${label} offers ${choice.type} in ${list(type.prices.map((entry) => entry.location))}, not in ${choice.location}` };
  }
  if (!catalog.images.some((entry) => entry.name === choice.image)) {
    return { field: 'image', message: `${label} has no image ${choice.image}; it offers ${list(catalog.images.map((entry) => entry.name))}` };
  }
  return null;
}

/**
 * A provider's refusal as the API answers it, in the provider's words: the token refused or a request
 * refused is 422 (what was asked cannot be done with this key), a rate limit, an outage or no answer
 * 503 (with Retry-After when the provider gave one).
 */
export function cloudErrorAsApiError(label: string, error: CloudProviderError): ApiError {
  const retryAfter = error.retryAfterSeconds === undefined ? undefined : { 'retry-after': String(error.retryAfterSeconds) };
  if (error.status === 401 || error.status === 403) return new ApiError(422, `${label} refused the saved cloud key: ${error.message}`);
  if (error.status === 429) return new ApiError(503, `${label} is rate limiting this cloud key: ${error.message}`, { headers: retryAfter });
  if (error.status >= 400 && error.status < 500) return new ApiError(422, `${label}: ${error.message}`);
  return new ApiError(503, `${label} is unavailable: ${error.message}`, { headers: retryAfter });
}
