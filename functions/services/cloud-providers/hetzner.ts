// Hetzner Cloud (https://docs.hetzner.cloud, as hetznercloud/hcloud-go's schema/ reads it): servers
// labelled `stacker-deployment=<hash>`, listed by label selector, pages by meta.pagination.next_page,
// errors as {"error": {"code", "message", "details"}}. The create answer's root_password (given when
// no SSH key is) is not part of the schema below, so it is never read, kept or shown.
import { z } from 'zod';
import {
  DEPLOYMENT_LABEL,
  ProviderHttp,
  architectureOf,
  assertDeploymentLabel,
  price,
  providerWords,
  type CloudProvider,
  type CloudServer,
  type CreateServerInput,
  type ImageOffer,
  type LocationOffer,
  type ProviderOptions,
  type ServerStatus,
  type ServerTypeOffer,
} from './provider.ts';

export const HETZNER_DEFAULT_API_URL = 'https://api.hetzner.cloud/v1';
const CURRENCY = 'EUR';

const server = z.object({
  id: z.number().int(),
  name: z.string(),
  status: z.string(),
  created: z.string(),
  public_net: z.object({ ipv4: z.object({ ip: z.string() }).nullish() }),
  server_type: z.object({ name: z.string() }),
  // `location` since 2025; `datacenter.location` before (the datacenter goes away in 2026).
  location: z.object({ name: z.string() }).nullish(),
  datacenter: z.object({ location: z.object({ name: z.string() }) }).nullish(),
  labels: z.record(z.string(), z.string()).nullish(),
});
type Server = z.output<typeof server>;

const meta = z.object({ pagination: z.object({ next_page: z.number().int().nullish() }).nullish() }).nullish();

/** One page of a listing: its items under `key`, and the next page's number. */
function paged<T>(key: string, item: z.ZodType<T>) {
  const list = z.object({ items: z.array(item), meta });
  return z
    .preprocess((raw) => (raw && typeof raw === 'object' ? { items: (raw as Record<string, unknown>)[key], meta: (raw as { meta?: unknown }).meta } : raw), list)
    .transform((answer) => ({ items: answer.items, next: answer.meta?.pagination?.next_page ?? null }));
}

const deprecation = z.object({ unavailable_after: z.string().nullish() }).nullish();

const serverType = z.object({
  name: z.string(),
  description: z.string().nullish(),
  cores: z.number(),
  memory: z.number(),
  disk: z.number(),
  architecture: z.string().nullish(),
  deprecated: z.boolean().nullish(),
  deprecation,
  prices: z.array(z.object({ location: z.string(), price_hourly: z.object({ net: price }), price_monthly: z.object({ net: price }) })),
  locations: z.array(z.object({ name: z.string(), available: z.boolean().nullish(), deprecation })).nullish(),
});

const location = z.object({ name: z.string(), description: z.string().nullish(), country: z.string().nullish(), city: z.string().nullish() });

const image = z.object({
  name: z.string().nullish(),
  description: z.string().nullish(),
  os_flavor: z.string().nullish(),
  architecture: z.string().nullish(),
  deprecated: z.string().nullish(),
});

const errorBody = z.object({
  error: z.object({
    code: z.string(),
    message: z.string(),
    details: z.object({ fields: z.array(z.object({ name: z.string(), messages: z.array(z.string()) })).nullish() }).nullish(),
  }),
});

/** Hetzner's own words: the message, and for invalid_input the fields' messages after it. */
function readHetznerError(status: number, body: unknown): { code: string; message: string } {
  const parsed = errorBody.safeParse(body);
  if (!parsed.success) return { code: `http_${status}`, message: `Hetzner Cloud answered HTTP ${status}` };
  const { code, message, details } = parsed.data.error;
  const fields = (details?.fields ?? []).map((field) => `${field.name}: ${field.messages.join(', ')}`);
  return { code, message: providerWords(fields.length ? `${message} (${fields.join('; ')})` : message, `Hetzner Cloud answered HTTP ${status}`) };
}

const STATUS: Record<string, ServerStatus> = {
  initializing: 'starting',
  starting: 'starting',
  running: 'running',
  stopping: 'off',
  off: 'off',
  deleting: 'deleting',
};

function view(entry: Server): CloudServer {
  return {
    id: String(entry.id),
    name: entry.name,
    status: STATUS[entry.status] ?? 'unknown',
    providerStatus: entry.status,
    ipv4: entry.public_net.ipv4?.ip ?? null,
    type: entry.server_type.name,
    location: entry.location?.name ?? entry.datacenter?.location.name ?? '',
    deployment: entry.labels?.[DEPLOYMENT_LABEL] ?? null,
    createdAt: entry.created,
    // The console's server pages are under the project's ID, which the API does not tell.
    consoleUrl: 'https://console.hetzner.cloud/projects',
  };
}

const serverId = (id: string) => {
  if (!/^\d{1,19}$/.test(id)) throw new Error(`not a Hetzner server ID: ${JSON.stringify(id.slice(0, 40))}`);
  return id;
};

/** Gone once its unavailable_after passed, or (the older field) once deprecated. */
const withdrawn = (entry: { deprecation?: { unavailable_after?: string | null } | null }, now: number) =>
  !!entry.deprecation && (!entry.deprecation.unavailable_after || Date.parse(entry.deprecation.unavailable_after) <= now);

export function hetznerProvider(options: ProviderOptions): CloudProvider {
  const http = new ProviderHttp('htz', options, readHetznerError);
  const now = () => options.now?.() ?? Date.now();

  /** Every page of a listing (meta.pagination.next_page), up to maxPages. */
  const all = <T,>(path: string, key: string, item: z.ZodType<T>, query: Record<string, string> = {}) => http.allPages(path, paged(key, item), query, 50);

  return {
    code: 'htz',
    label: 'Hetzner Cloud',
    stats: http.stats,

    async createServer(input: CreateServerInput) {
      assertDeploymentLabel(input.deployment);
      const answer = await http.send({
        method: 'POST',
        path: '/servers',
        body: {
          name: input.name,
          server_type: input.type,
          image: input.image,
          location: input.location,
          user_data: input.userData,
          labels: { [DEPLOYMENT_LABEL]: input.deployment },
          start_after_create: true,
          public_net: { enable_ipv4: true, enable_ipv6: true },
          ...(input.sshKeys?.length && { ssh_keys: input.sshKeys.map((key) => (/^\d+$/.test(key) ? Number(key) : key)) }),
        },
        schema: z.object({ server }),
      });
      return view(answer.server);
    },

    async getServer(id: string) {
      const answer = await http.sendOrNull({ method: 'GET', path: `/servers/${serverId(id)}`, schema: z.object({ server }) });
      return answer && view(answer.server);
    },

    async findServersByDeployment(deployment: string) {
      assertDeploymentLabel(deployment);
      const servers = await all('/servers', 'servers', server, { label_selector: `${DEPLOYMENT_LABEL}=${deployment}` });
      return servers.map(view);
    },

    async deleteServer(id: string) {
      const answer = await http.sendOrNull({ method: 'DELETE', path: `/servers/${serverId(id)}`, schema: z.object({}).passthrough() });
      return answer !== null;
    },

    async listServerTypes() {
      const types = await all('/server_types', 'server_types', serverType);
      const at = now();
      return types
        .filter((type) => !type.deprecated && !withdrawn(type, at))
        .map((type): ServerTypeOffer => {
          const orderable = type.locations
            ? new Set(type.locations.filter((entry) => entry.available !== false && !withdrawn(entry, at)).map((entry) => entry.name))
            : undefined;
          return {
            name: type.name,
            description: type.description ?? type.name,
            cores: type.cores,
            memoryGb: type.memory,
            diskGb: type.disk,
            architecture: architectureOf(type.architecture),
            currency: CURRENCY,
            prices: type.prices
              .filter((entry) => !orderable || orderable.has(entry.location))
              .map((entry) => ({ location: entry.location, monthly: entry.price_monthly.net, hourly: entry.price_hourly.net })),
          };
        });
    },

    async listLocations() {
      const locations = await all('/locations', 'locations', location);
      return locations.map((entry): LocationOffer => ({
        name: entry.name,
        description: entry.description ?? entry.name,
        country: entry.country ?? null,
        city: entry.city ?? null,
      }));
    },

    async listImages() {
      const images = await all('/images', 'images', image, { type: 'system', status: 'available' });
      // One name per system, listed once per architecture: the create picks the server type's.
      const byName = new Map<string, ImageOffer>();
      for (const entry of images) {
        if (!entry.name || entry.deprecated) continue;
        const architecture = architectureOf(entry.architecture);
        const seen = byName.get(entry.name);
        if (seen) {
          if (seen.architecture !== architecture) seen.architecture = null;
          continue;
        }
        byName.set(entry.name, { name: entry.name, description: entry.description ?? entry.name, distribution: entry.os_flavor ?? 'unknown', architecture });
      }
      return [...byName.values()];
    },
  };
}

