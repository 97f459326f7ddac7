// A stand-in for the DigitalOcean API (https://api.digitalocean.com/v2) on loopback, in its wire
// format as digitalocean/godo reads it: POST/GET/DELETE /droplets (tag_name, pages with absolute
// links.pages.next and meta.total), /sizes with prices, /regions, /images?type=distribution; errors as
// {"id", "message", "request_id"}. A create answers 202 with the Droplet `new` and no address yet; it
// turns `active` with its public IPv4 after a while (see cloud.ts for the controls and faults).
// Refusals in DigitalOcean's words: 401 {"id":"Unauthorized","message":"Unable to authenticate you"},
// 429 too_many_requests (Retry-After and the RateLimit-* headers), 422 unprocessable_entity ("You
// specified an invalid size for Droplet creation.", the same for region and image), 404 not_found.
import { randomUUID } from 'node:crypto';
import { isHostname, pageOf, startCloudStandIn, type Account, type ApiRequest, type CloudStandIn, type CloudStandInOptions, type Flavor, type FlavorTools, type Reply, type StandInServer } from './cloud.ts';

export type { CloudStandIn, StandInServer } from './cloud.ts';

interface RegionSpec {
  slug: string;
  name: string;
}

export const DIGITALOCEAN_REGIONS: RegionSpec[] = [
  { slug: 'nyc1', name: 'New York 1' },
  { slug: 'nyc3', name: 'New York 3' },
  { slug: 'sfo3', name: 'San Francisco 3' },
  { slug: 'ams3', name: 'Amsterdam 3' },
  { slug: 'fra1', name: 'Frankfurt 1' },
  { slug: 'lon1', name: 'London 1' },
  { slug: 'sgp1', name: 'Singapore 1' },
  { slug: 'tor1', name: 'Toronto 1' },
];

interface SizeSpec {
  slug: string;
  memory: number;
  vcpus: number;
  disk: number;
  transfer: number;
  price_monthly: number;
  description: string;
  regions: string[];
  available: boolean;
}

const ALL = DIGITALOCEAN_REGIONS.map((region) => region.slug);

/** Sizes, shaped as DigitalOcean lists them; prices as published for Basic and CPU-Optimized Droplets. */
export const DIGITALOCEAN_SIZES: SizeSpec[] = [
  { slug: 's-1vcpu-512mb-10gb', memory: 512, vcpus: 1, disk: 10, transfer: 0.5, price_monthly: 4, description: 'Basic', regions: ['nyc1', 'sfo3', 'fra1', 'ams3'], available: true },
  { slug: 's-1vcpu-1gb', memory: 1024, vcpus: 1, disk: 25, transfer: 1, price_monthly: 6, description: 'Basic', regions: ALL, available: true },
  { slug: 's-1vcpu-2gb', memory: 2048, vcpus: 1, disk: 50, transfer: 2, price_monthly: 12, description: 'Basic', regions: ALL, available: true },
  { slug: 's-2vcpu-2gb', memory: 2048, vcpus: 2, disk: 60, transfer: 3, price_monthly: 18, description: 'Basic', regions: ALL, available: true },
  { slug: 's-2vcpu-4gb', memory: 4096, vcpus: 2, disk: 80, transfer: 4, price_monthly: 24, description: 'Basic', regions: ALL, available: true },
  { slug: 's-4vcpu-8gb', memory: 8192, vcpus: 4, disk: 160, transfer: 5, price_monthly: 48, description: 'Basic', regions: ALL, available: true },
  { slug: 'c-2', memory: 4096, vcpus: 2, disk: 25, transfer: 4, price_monthly: 42, description: 'CPU-Optimized', regions: ALL, available: true },
  { slug: 'm-2vcpu-16gb', memory: 16384, vcpus: 2, disk: 50, transfer: 4, price_monthly: 84, description: 'Memory-Optimized', regions: [], available: false },
];

interface ImageSpec {
  id: number;
  slug: string;
  name: string;
  distribution: string;
}

export const DIGITALOCEAN_IMAGES: ImageSpec[] = [
  { id: 165062556, slug: 'ubuntu-24-04-x64', name: '24.04 (LTS) x64', distribution: 'Ubuntu' },
  { id: 129211873, slug: 'ubuntu-22-04-x64', name: '22.04 (LTS) x64', distribution: 'Ubuntu' },
  { id: 136866575, slug: 'debian-12-x64', name: '12 x64', distribution: 'Debian' },
  { id: 160128402, slug: 'fedora-42-x64', name: '42 x64', distribution: 'Fedora' },
  { id: 156429217, slug: 'rockylinux-9-x64', name: '9 x64', distribution: 'Rocky Linux' },
];

const error = (status: number, id: string, message: string): Reply => ({ status, body: { id, message, request_id: randomUUID() } });
const unprocessable = (message: string) => error(422, 'unprocessable_entity', message);

const TAG = /^[A-Za-z0-9:_-]{1,255}$/;

function sizeJson(size: SizeSpec) {
  return {
    slug: size.slug,
    memory: size.memory,
    vcpus: size.vcpus,
    disk: size.disk,
    transfer: size.transfer,
    price_monthly: size.price_monthly,
    price_hourly: Math.round((size.price_monthly / 672) * 1e6) / 1e6,
    regions: size.regions,
    available: size.available,
    description: size.description,
    disk_info: [{ type: 'local', size: { amount: size.disk, unit: 'gib' } }],
  };
}

function regionJson(region: RegionSpec) {
  return {
    slug: region.slug,
    name: region.name,
    sizes: DIGITALOCEAN_SIZES.filter((size) => size.regions.includes(region.slug)).map((size) => size.slug),
    available: true,
    features: ['backups', 'ipv6', 'metadata', 'install_agent', 'storage', 'image_transfer'],
  };
}

function imageJson(image: ImageSpec) {
  return {
    id: image.id,
    name: image.name,
    distribution: image.distribution,
    slug: image.slug,
    public: true,
    regions: ALL,
    created_at: '2024-04-25T00:00:00Z',
    min_disk_size: 7,
    type: 'base',
    size_gigabytes: 2.36,
    description: `${image.distribution} ${image.name}`,
    tags: [],
    status: 'available',
    error_message: '',
  };
}

function dropletJson(server: StandInServer) {
  const size = DIGITALOCEAN_SIZES.find((entry) => entry.slug === server.type)!;
  const region = DIGITALOCEAN_REGIONS.find((entry) => entry.slug === server.location)!;
  const image = DIGITALOCEAN_IMAGES.find((entry) => entry.slug === server.image)!;
  return {
    id: server.id,
    name: server.name,
    memory: size.memory,
    vcpus: size.vcpus,
    disk: size.disk,
    locked: false,
    status: server.status,
    kernel: null,
    created_at: server.createdAt,
    features: ['droplet_agent', 'private_networking', 'ipv6'],
    backup_ids: [],
    next_backup_window: null,
    snapshot_ids: [],
    image: imageJson(image),
    volume_ids: [],
    size: sizeJson(size),
    size_slug: size.slug,
    networks: {
      v4: server.ipv4
        ? [
            { ip_address: server.ipv4, netmask: '255.255.240.0', gateway: server.ipv4.replace(/\.\d+$/, '.1'), type: 'public' },
            { ip_address: `10.110.0.${(server.id % 250) + 2}`, netmask: '255.255.240.0', gateway: '10.110.0.1', type: 'private' },
          ]
        : [],
      v6: server.ipv4 ? [{ ip_address: `2001:db8::${(server.id % 0xffff).toString(16)}`, netmask: 64, gateway: '2001:db8::1', type: 'public' }] : [],
    },
    region: regionJson(region),
    tags: server.tags,
    vpc_uuid: '5a4981aa-9653-4bd1-bef5-d6bff52042e4',
  };
}

/** A page, with DigitalOcean's absolute links (only when there are other pages) and meta.total. */
function list(key: string, items: unknown[], request: ApiRequest): Reply {
  const page = pageOf(items, request.query, { perPage: 20, maxPerPage: 200 });
  const link = (n: number) => {
    const url = new URL(request.url);
    url.searchParams.set('page', String(n));
    url.searchParams.set('per_page', String(page.perPage));
    return url.toString();
  };
  const pages: Record<string, string> = {};
  if (page.page > 1) Object.assign(pages, { first: link(1), prev: link(page.page - 1) });
  if (page.page < page.lastPage) Object.assign(pages, { next: link(page.page + 1), last: link(page.lastPage) });
  return { status: 200, body: { [key]: page.items, links: Object.keys(pages).length ? { pages } : {}, meta: { total: page.total } } };
}

function createDroplet(request: ApiRequest, account: Account, tools: FlavorTools): Reply {
  if (request.body === 'invalid' || typeof request.body !== 'object' || request.body === null) return error(400, 'bad_request', 'unparseable request body');
  const input = request.body as Record<string, unknown>;
  if (input.names !== undefined) return unprocessable('Creating several Droplets at once is not supported by this stand-in.');
  if (!isHostname(input.name)) return unprocessable('Only valid hostname characters are allowed. (a-z, A-Z, 0-9, . and -)');
  const name = input.name;
  const size = DIGITALOCEAN_SIZES.find((entry) => entry.slug === input.size);
  if (!size) return unprocessable('You specified an invalid size for Droplet creation.');
  const region = DIGITALOCEAN_REGIONS.find((entry) => entry.slug === input.region);
  if (!region) return unprocessable('You specified an invalid region for Droplet creation.');
  if (!size.available || !size.regions.includes(region.slug)) return unprocessable('Size is not available in this region.');
  const image = DIGITALOCEAN_IMAGES.find((entry) => entry.slug === input.image || entry.id === input.image);
  if (!image) return unprocessable('You specified an invalid image for Droplet creation.');
  const tags = input.tags === undefined || input.tags === null ? [] : input.tags;
  if (!Array.isArray(tags) || tags.some((tag) => typeof tag !== 'string' || !TAG.test(tag))) {
    return unprocessable('Tags may contain letters, numbers, colons, dashes, and underscores, up to 255 characters.');
  }
  const userData = typeof input.user_data === 'string' ? input.user_data : '';
  if (userData.length > 64 * 1024) return unprocessable('user_data is limited to 64 KiB.');

  const server = tools.create(account, {
    name,
    status: 'new',
    type: size.slug,
    location: region.slug,
    image: image.slug,
    userData,
    labels: {},
    tags: tags as string[],
    sshKeys: Array.isArray(input.ssh_keys) ? input.ssh_keys : [],
    details: {},
  });
  const actionId = Math.floor(Math.random() * 1e9);
  return {
    status: 202,
    body: {
      droplet: dropletJson(server),
      links: { actions: [{ id: actionId, rel: 'create', href: `${request.url.origin}/v2/actions/${actionId}` }] },
    },
  };
}

const flavor: Flavor = {
  basePath: '/v2',
  runningStatus: 'active',
  addressAtCreate: false,
  error,
  unauthorized: error(401, 'Unauthorized', 'Unable to authenticate you'),
  serviceUnavailable: error(503, 'service_unavailable', 'The service is temporarily unavailable. Please try again later.'),
  rateLimited: (retryAfter) => ({
    ...error(429, 'too_many_requests', 'API Rate limit exceeded.'),
    headers: {
      'retry-after': String(retryAfter),
      'ratelimit-limit': '5000',
      'ratelimit-remaining': '0',
      'ratelimit-reset': String(Math.ceil(Date.now() / 1000) + retryAfter),
    },
  }),
  route(request, account, tools) {
    const { method, path, query } = request;
    if (method === 'POST' && path === '/droplets') return createDroplet(request, account, tools);
    if (method === 'GET' && path === '/droplets') {
      const tag = query.get('tag_name');
      const name = query.get('name');
      const droplets = [...account.servers.values()]
        .filter((server) => !server.deletedAt && (!tag || server.tags.includes(tag)) && (!name || server.name === name))
        .map(dropletJson);
      return list('droplets', droplets, request);
    }
    const dropletMatch = /^\/droplets\/(\d+)$/.exec(path);
    if (dropletMatch) {
      const server = account.servers.get(Number(dropletMatch[1]));
      if (!server || server.deletedAt) return error(404, 'not_found', 'The resource you were accessing could not be found.');
      if (method === 'GET') return { status: 200, body: { droplet: dropletJson(server) } };
      if (method === 'DELETE') {
        tools.delete(account, server);
        return { status: 204 };
      }
    }
    if (method === 'GET' && path === '/sizes') return list('sizes', DIGITALOCEAN_SIZES.map(sizeJson), request);
    if (method === 'GET' && path === '/regions') return list('regions', DIGITALOCEAN_REGIONS.map(regionJson), request);
    if (method === 'GET' && path === '/images') {
      const type = query.get('type');
      return list('images', type && type !== 'distribution' ? [] : DIGITALOCEAN_IMAGES.map(imageJson), request);
    }
    return error(404, 'not_found', 'The resource you were accessing could not be found.');
  },
};

/** Starts the DigitalOcean stand-in; configure its `apiUrl` as DIGITALOCEAN_API_URL. */
export function startDigitalOceanStandIn(options: CloudStandInOptions): Promise<CloudStandIn> {
  return startCloudStandIn(flavor, options);
}
