// DigitalOcean (https://docs.digitalocean.com/reference/api/, as digitalocean/godo reads it): Droplets
// tagged `stacker-deployment:<hash>` (tags take letters, digits, `:`, `-` and `_`), listed by
// tag_name, pages by links.pages.next, errors as {"id", "message", "request_id"}. Only the page number
// is taken from a `next` link: the request goes to the configured base, never to a host an answer names.
import { z } from 'zod';
import {
  DEPLOYMENT_LABEL,
  ProviderHttp,
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

export const DIGITALOCEAN_DEFAULT_API_URL = 'https://api.digitalocean.com/v2';
const CURRENCY = 'USD';
const TAG_PREFIX = `${DEPLOYMENT_LABEL}:`;

/** The tag that names a deployment's Droplet. */
export const deploymentTag = (deployment: string) => `${TAG_PREFIX}${deployment}`;

const droplet = z.object({
  id: z.number().int(),
  name: z.string(),
  status: z.string(),
  created_at: z.string(),
  networks: z.object({ v4: z.array(z.object({ ip_address: z.string(), type: z.string() })).nullish() }).nullish(),
  size_slug: z.string(),
  region: z.object({ slug: z.string() }),
  tags: z.array(z.string()).nullish(),
});
type Droplet = z.output<typeof droplet>;

const links = z.object({ pages: z.object({ next: z.string().nullish() }).nullish() }).nullish();

/** One page of a listing: its items under `key`, and the next page's number (from links.pages.next). */
function paged<T>(key: string, item: z.ZodType<T>) {
  const list = z.object({ items: z.array(item), links });
  return z
    .preprocess((raw) => (raw && typeof raw === 'object' ? { items: (raw as Record<string, unknown>)[key], links: (raw as { links?: unknown }).links } : raw), list)
    .transform((answer) => ({ items: answer.items, next: pageOf(answer.links?.pages?.next) }));
}

function pageOf(next: string | null | undefined): number | null {
  if (!next) return null;
  try {
    const page = new URL(next).searchParams.get('page');
    return page && /^\d{1,6}$/.test(page) ? Number(page) : null;
  } catch {
    return null;
  }
}

const size = z.object({
  slug: z.string(),
  memory: z.number(),
  vcpus: z.number(),
  disk: z.number(),
  price_monthly: price,
  price_hourly: price,
  regions: z.array(z.string()),
  available: z.boolean(),
  description: z.string().nullish(),
});

const region = z.object({ slug: z.string(), name: z.string(), available: z.boolean() });

const image = z.object({
  slug: z.string().nullish(),
  name: z.string(),
  distribution: z.string().nullish(),
  description: z.string().nullish(),
  status: z.string().nullish(),
});

const errorBody = z.object({ id: z.string(), message: z.string() });

function readDigitalOceanError(status: number, body: unknown): { code: string; message: string } {
  const parsed = errorBody.safeParse(body);
  if (!parsed.success) return { code: `http_${status}`, message: `DigitalOcean answered HTTP ${status}` };
  return { code: parsed.data.id, message: providerWords(parsed.data.message, `DigitalOcean answered HTTP ${status}`) };
}

const STATUS: Record<string, ServerStatus> = { new: 'starting', active: 'running', off: 'off', archive: 'deleting' };

function view(entry: Droplet): CloudServer {
  const tag = entry.tags?.find((candidate) => candidate.startsWith(TAG_PREFIX));
  return {
    id: String(entry.id),
    name: entry.name,
    status: STATUS[entry.status] ?? 'unknown',
    providerStatus: entry.status,
    ipv4: entry.networks?.v4?.find((network) => network.type === 'public')?.ip_address ?? null,
    type: entry.size_slug,
    location: entry.region.slug,
    deployment: tag ? tag.slice(TAG_PREFIX.length) : null,
    createdAt: entry.created_at,
    consoleUrl: `https://cloud.digitalocean.com/droplets/${entry.id}`,
  };
}

const dropletId = (id: string) => {
  if (!/^\d{1,19}$/.test(id)) throw new Error(`not a Droplet ID: ${JSON.stringify(id.slice(0, 40))}`);
  return id;
};

export function digitalOceanProvider(options: ProviderOptions): CloudProvider {
  const http = new ProviderHttp('do', options, readDigitalOceanError);

  /** Every page of a listing, up to maxPages. */
  const all = <T,>(path: string, key: string, item: z.ZodType<T>, query: Record<string, string> = {}) => http.allPages(path, paged(key, item), query, 200);

  return {
    code: 'do',
    label: 'DigitalOcean',
    stats: http.stats,

    async createServer(input: CreateServerInput) {
      assertDeploymentLabel(input.deployment);
      const answer = await http.send({
        method: 'POST',
        path: '/droplets',
        body: {
          name: input.name,
          region: input.location,
          size: input.type,
          image: input.image,
          ssh_keys: (input.sshKeys ?? []).map((key) => (/^\d+$/.test(key) ? Number(key) : key)),
          backups: false,
          ipv6: true,
          monitoring: false,
          user_data: input.userData,
          tags: [deploymentTag(input.deployment)],
        },
        schema: z.object({ droplet }),
      });
      return view(answer.droplet);
    },

    async getServer(id: string) {
      const answer = await http.sendOrNull({ method: 'GET', path: `/droplets/${dropletId(id)}`, schema: z.object({ droplet }) });
      return answer && view(answer.droplet);
    },

    async findServersByDeployment(deployment: string) {
      assertDeploymentLabel(deployment);
      const droplets = await all('/droplets', 'droplets', droplet, { tag_name: deploymentTag(deployment) });
      return droplets.map(view);
    },

    async deleteServer(id: string) {
      const answer = await http.sendOrNull({ method: 'DELETE', path: `/droplets/${dropletId(id)}`, schema: z.unknown() });
      return answer !== null;
    },

    async listServerTypes() {
      const sizes = await all('/sizes', 'sizes', size);
      return sizes
        .filter((entry) => entry.available)
        .map((entry): ServerTypeOffer => ({
          name: entry.slug,
          description: entry.description ?? entry.slug,
          cores: entry.vcpus,
          memoryGb: entry.memory / 1024,
          diskGb: entry.disk,
          architecture: null,
          currency: CURRENCY,
          prices: entry.regions.map((location) => ({ location, monthly: entry.price_monthly, hourly: entry.price_hourly })),
        }));
    },

    async listLocations() {
      const regions = await all('/regions', 'regions', region);
      return regions
        .filter((entry) => entry.available)
        .map((entry): LocationOffer => ({ name: entry.slug, description: entry.name, country: null, city: null }));
    },

    async listImages() {
      const images = await all('/images', 'images', image, { type: 'distribution' });
      return images
        .filter((entry): entry is typeof entry & { slug: string } => !!entry.slug && (entry.status ?? 'available') === 'available')
        .map((entry): ImageOffer => ({
          name: entry.slug,
          description: [entry.distribution, entry.name].filter(Boolean).join(' '),
          distribution: entry.distribution ?? 'unknown',
          architecture: 'x86',
        }));
    },
  };
}
