// A stand-in for the Hetzner Cloud API (https://api.hetzner.cloud/v1) on loopback, in its wire format
// as hetznercloud/hcloud-go's schema/ reads it: POST/GET/DELETE /servers (label_selector, pages with
// meta.pagination), /server_types with per-location prices, /locations, /images; errors as
// {"error": {"code", "message", "details"}}. A create answers 201 with the server `initializing`, its
// primary IPv4 already assigned, and a root_password when no SSH key was given, as Hetzner does; the
// server turns `running` after a while (see cloud.ts for the controls and faults).
// Refusals, with Hetzner's codes: 401 unauthorized, 429 rate_limit_exceeded (Retry-After and the
// RateLimit-* headers), 409 uniqueness_error for a name in use, 422 invalid_input for a missing or bad
// field, "unsupported location for server type" (a type not sold there: Hetzner's own words), "server
// type cx11 is deprecated" for a type past its unavailable_after, "server type … not found", 404
// not_found for an unknown server.
import { randomBytes } from 'node:crypto';
import { isHostname, pageOf, startCloudStandIn, type Account, type ApiRequest, type CloudStandIn, type CloudStandInOptions, type Flavor, type FlavorTools, type Reply, type StandInServer } from './cloud.ts';

export type { CloudStandIn, StandInServer } from './cloud.ts';

interface Location {
  id: number;
  name: string;
  description: string;
  country: string;
  city: string;
  latitude: number;
  longitude: number;
  network_zone: string;
}

export const HETZNER_LOCATIONS: Location[] = [
  { id: 1, name: 'fsn1', description: 'Falkenstein DC Park 1', country: 'DE', city: 'Falkenstein', latitude: 50.47612, longitude: 12.370071, network_zone: 'eu-central' },
  { id: 2, name: 'nbg1', description: 'Nuremberg DC Park 1', country: 'DE', city: 'Nuremberg', latitude: 49.452102, longitude: 11.076665, network_zone: 'eu-central' },
  { id: 3, name: 'hel1', description: 'Helsinki DC Park 1', country: 'FI', city: 'Helsinki', latitude: 60.169855, longitude: 24.938379, network_zone: 'eu-central' },
  { id: 4, name: 'ash', description: 'Ashburn, VA', country: 'US', city: 'Ashburn, VA', latitude: 39.045821, longitude: -77.487073, network_zone: 'us-east' },
  { id: 5, name: 'hil', description: 'Hillsboro, OR', country: 'US', city: 'Hillsboro, OR', latitude: 45.54222, longitude: -122.951924, network_zone: 'us-west' },
  { id: 6, name: 'sin', description: 'Singapore', country: 'SG', city: 'Singapore', latitude: 1.283333, longitude: 103.833333, network_zone: 'ap-southeast' },
];

const EU = ['fsn1', 'nbg1', 'hel1'];
const EVERYWHERE = HETZNER_LOCATIONS.map((location) => location.name);

interface TypeSpec {
  id: number;
  name: string;
  description: string;
  cores: number;
  memory: number;
  disk: number;
  cpu_type: 'shared' | 'dedicated';
  architecture: 'x86' | 'arm';
  category: string;
  /** Net monthly price (EUR) per location. */
  prices: Record<string, number>;
  deprecation?: { announced: string; unavailable_after: string };
}

const priced = (locations: string[], monthly: number, elsewhere = monthly) =>
  Object.fromEntries(locations.map((location) => [location, EU.includes(location) ? monthly : elsewhere]));

/** Server types, shaped as Hetzner lists them in 2026; prices illustrative. cx11 and cx22 are withdrawn. */
export const HETZNER_SERVER_TYPES: TypeSpec[] = [
  { id: 22, name: 'cx11', description: 'CX11', cores: 1, memory: 2, disk: 20, cpu_type: 'shared', architecture: 'x86', category: 'cost_optimized', prices: priced(EU, 3.29), deprecation: { announced: '2024-06-06T00:00:00Z', unavailable_after: '2024-09-06T00:00:00Z' } },
  { id: 104, name: 'cx22', description: 'CX22', cores: 2, memory: 4, disk: 40, cpu_type: 'shared', architecture: 'x86', category: 'cost_optimized', prices: priced(EU, 3.79), deprecation: { announced: '2025-10-16T00:00:00Z', unavailable_after: '2026-01-01T00:00:00Z' } },
  { id: 114, name: 'cx23', description: 'CX23', cores: 2, memory: 4, disk: 40, cpu_type: 'shared', architecture: 'x86', category: 'cost_optimized', prices: priced(EU, 3.49) },
  { id: 115, name: 'cx33', description: 'CX33', cores: 4, memory: 8, disk: 80, cpu_type: 'shared', architecture: 'x86', category: 'cost_optimized', prices: priced(EU, 5.49) },
  { id: 116, name: 'cx43', description: 'CX43', cores: 8, memory: 16, disk: 160, cpu_type: 'shared', architecture: 'x86', category: 'cost_optimized', prices: priced(EU, 9.49) },
  { id: 108, name: 'cpx22', description: 'CPX22', cores: 2, memory: 4, disk: 80, cpu_type: 'shared', architecture: 'x86', category: 'regular_purpose', prices: priced(EVERYWHERE, 5.99, 7.99) },
  { id: 109, name: 'cpx32', description: 'CPX32', cores: 4, memory: 8, disk: 160, cpu_type: 'shared', architecture: 'x86', category: 'regular_purpose', prices: priced(EVERYWHERE, 10.49, 13.99) },
  { id: 45, name: 'cax11', description: 'CAX11', cores: 2, memory: 4, disk: 40, cpu_type: 'shared', architecture: 'arm', category: 'cost_optimized', prices: priced(EU, 3.79) },
  { id: 96, name: 'ccx13', description: 'CCX13 Dedicated CPU', cores: 2, memory: 8, disk: 80, cpu_type: 'dedicated', architecture: 'x86', category: 'general_purpose', prices: priced(EVERYWHERE, 12.49, 14.99) },
];

interface ImageSpec {
  id: number;
  name: string;
  description: string;
  os_flavor: string;
  os_version: string;
  architecture: 'x86' | 'arm';
}

export const HETZNER_IMAGES: ImageSpec[] = [
  { id: 161547269, name: 'ubuntu-24.04', description: 'Ubuntu 24.04', os_flavor: 'ubuntu', os_version: '24.04', architecture: 'x86' },
  { id: 161547270, name: 'ubuntu-24.04', description: 'Ubuntu 24.04', os_flavor: 'ubuntu', os_version: '24.04', architecture: 'arm' },
  { id: 67794396, name: 'ubuntu-22.04', description: 'Ubuntu 22.04', os_flavor: 'ubuntu', os_version: '22.04', architecture: 'x86' },
  { id: 114690387, name: 'debian-12', description: 'Debian 12', os_flavor: 'debian', os_version: '12', architecture: 'x86' },
  { id: 114690389, name: 'debian-12', description: 'Debian 12', os_flavor: 'debian', os_version: '12', architecture: 'arm' },
  { id: 76766499, name: 'rocky-9', description: 'Rocky Linux 9', os_flavor: 'rocky', os_version: '9', architecture: 'x86' },
];

const amount = (value: number) => value.toFixed(10);
const money = (net: number) => ({ net: amount(net), gross: amount(net * 1.19) });

function typeJson(type: TypeSpec) {
  return {
    id: type.id,
    name: type.name,
    description: type.description,
    category: type.category,
    cores: type.cores,
    memory: type.memory,
    disk: type.disk,
    storage_type: 'local',
    cpu_type: type.cpu_type,
    architecture: type.architecture,
    included_traffic: 0,
    deprecated: !!type.deprecation,
    deprecation: type.deprecation ?? null,
    prices: Object.entries(type.prices).map(([location, monthly]) => ({
      location,
      price_hourly: money(Math.round((monthly / 730) * 10_000) / 10_000),
      price_monthly: money(monthly),
      included_traffic: (EU.includes(location) ? 20 : 1) * 1024 ** 4,
      price_per_tb_traffic: money(1),
    })),
    locations: Object.keys(type.prices).map((name) => ({
      id: HETZNER_LOCATIONS.find((location) => location.name === name)?.id ?? 0,
      name,
      deprecation: type.deprecation ?? null,
      available: !type.deprecation,
      recommended: !type.deprecation,
    })),
  };
}

function imageJson(image: ImageSpec) {
  return {
    id: image.id,
    type: 'system',
    status: 'available',
    name: image.name,
    description: image.description,
    image_size: null,
    disk_size: 5,
    created: '2024-04-25T00:00:00Z',
    created_from: null,
    bound_to: null,
    os_flavor: image.os_flavor,
    os_version: image.os_version,
    rapid_deploy: true,
    protection: { delete: false },
    deprecated: null,
    deleted: null,
    labels: {},
    architecture: image.architecture,
  };
}

const error = (status: number, code: string, message: string, details: unknown = {}): Reply => ({ status, body: { error: { code, message, details } } });
const invalidField = (field: string, message: string) => error(422, 'invalid_input', `invalid input in field '${field}'`, { fields: [{ name: field, messages: [message] }] });

const LABEL_NAME = /^([a-z0-9]([a-z0-9.-]{0,251}[a-z0-9])?\/)?[A-Za-z0-9]([A-Za-z0-9_.-]{0,61}[A-Za-z0-9])?$/;
const LABEL_VALUE = /^([A-Za-z0-9]([A-Za-z0-9_.-]{0,61}[A-Za-z0-9])?)?$/;

/** Hetzner's label selectors: `k=v`, `k==v`, `k!=v`, `k`, `!k`, joined by commas (all must hold). */
function matchesSelector(labels: Record<string, string>, selector: string | null): boolean {
  if (!selector) return true;
  return selector.split(',').every((raw) => {
    const term = raw.trim();
    const [, key, op, value] = /^([^!=]+?)\s*(==|!=|=)\s*(.*)$/.exec(term) ?? [];
    if (key && op) return op === '!=' ? labels[key.trim()] !== value!.trim() : labels[key.trim()] === value!.trim();
    if (term.startsWith('!')) return !(term.slice(1).trim() in labels);
    return term in labels;
  });
}

function action(command: string, serverId: number, now: string) {
  return { id: Math.floor(Math.random() * 1e9), command, status: 'running', progress: 0, started: now, finished: null, resources: [{ id: serverId, type: 'server' }], error: null };
}

function serverJson(server: StandInServer) {
  const type = HETZNER_SERVER_TYPES.find((entry) => entry.name === server.type)!;
  const location = HETZNER_LOCATIONS.find((entry) => entry.name === server.location)!;
  const image = server.details.image as ImageSpec;
  return {
    id: server.id,
    name: server.name,
    status: server.status,
    created: server.createdAt,
    public_net: {
      ipv4: server.ipv4 ? { id: server.id + 50_000_000, ip: server.ipv4, blocked: false, dns_ptr: `static.${server.ipv4.split('.').reverse().join('.')}.clients.your-server.de` } : null,
      ipv6: { id: server.id + 60_000_000, ip: `2001:db8:${(server.id % 0xffff).toString(16)}::/64`, blocked: false, dns_ptr: [] },
      floating_ips: [],
      firewalls: [],
    },
    private_net: [],
    server_type: typeJson(type),
    location,
    datacenter: { id: location.id, name: `${location.name}-dc1`, description: `${location.description} DC1`, location },
    image: imageJson(image),
    iso: null,
    rescue_enabled: false,
    locked: false,
    backup_window: null,
    outgoing_traffic: 0,
    ingoing_traffic: 0,
    included_traffic: 0,
    protection: { delete: false, rebuild: false },
    labels: server.labels,
    volumes: [],
    load_balancers: [],
    primary_disk_size: type.disk,
    placement_group: null,
  };
}

function list(key: string, items: unknown[], query: URLSearchParams): Reply {
  const page = pageOf(items, query, { perPage: 25, maxPerPage: 50 });
  return {
    status: 200,
    body: {
      [key]: page.items,
      meta: {
        pagination: {
          page: page.page,
          per_page: page.perPage,
          previous_page: page.page > 1 ? page.page - 1 : null,
          next_page: page.page < page.lastPage ? page.page + 1 : null,
          last_page: page.lastPage,
          total_entries: page.total,
        },
      },
    },
  };
}

function createServer(request: ApiRequest, account: Account, tools: FlavorTools): Reply {
  if (request.body === 'invalid' || typeof request.body !== 'object' || request.body === null) return error(400, 'json_error', 'syntax error');
  const input = request.body as Record<string, unknown>;
  for (const field of ['name', 'server_type', 'image']) {
    if (input[field] === undefined || input[field] === null || input[field] === '') return invalidField(field, 'Missing data for required field.');
  }
  if (!isHostname(input.name)) return invalidField('name', 'Name must be a valid hostname.');
  const name = input.name;
  if ([...account.servers.values()].some((server) => !server.deletedAt && server.name === name)) return error(409, 'uniqueness_error', 'server name is already used');
  const type = HETZNER_SERVER_TYPES.find((entry) => entry.name === input.server_type || entry.id === input.server_type);
  if (!type) return error(422, 'invalid_input', `server type ${String(input.server_type)} not found`);
  if (type.deprecation && Date.parse(type.deprecation.unavailable_after) <= Date.now()) return error(422, 'invalid_input', `server type ${type.name} is deprecated`);
  const locationName = typeof input.location === 'string' ? input.location : 'fsn1';
  const location = HETZNER_LOCATIONS.find((entry) => entry.name === locationName);
  if (!location) return error(422, 'invalid_input', `location ${locationName} not found`);
  if (!(location.name in type.prices)) return error(422, 'invalid_input', 'unsupported location for server type');
  const image = HETZNER_IMAGES.find((entry) => (entry.name === input.image || entry.id === input.image) && entry.architecture === type.architecture);
  if (!image) return error(422, 'invalid_input', `image ${String(input.image)} not found`);
  const labels = (input.labels ?? {}) as Record<string, unknown>;
  if (typeof labels !== 'object' || Object.entries(labels).some(([key, value]) => !LABEL_NAME.test(key) || typeof value !== 'string' || !LABEL_VALUE.test(value))) {
    return invalidField('labels', 'label key or value is not valid');
  }
  const userData = typeof input.user_data === 'string' ? input.user_data : '';
  if (userData.length > 32 * 1024) return invalidField('user_data', 'Longer than maximum length 32768.');
  const sshKeys = Array.isArray(input.ssh_keys) ? input.ssh_keys : [];

  const server = tools.create(account, {
    name,
    status: 'initializing',
    type: type.name,
    location: location.name,
    image: image.name,
    userData,
    labels: labels as Record<string, string>,
    tags: [],
    sshKeys,
    details: { image },
  });
  const now = tools.now();
  return {
    status: 201,
    body: {
      server: serverJson(server),
      action: action('create_server', server.id, now),
      next_actions: [action('start_server', server.id, now)],
      // As Hetzner: a generated root password when no SSH key is given. Stacker must never read it.
      root_password: sshKeys.length ? null : randomBytes(15).toString('base64url'),
    },
  };
}

const flavor: Flavor = {
  basePath: '/v1',
  runningStatus: 'running',
  addressAtCreate: true,
  error: (status, code, message) => error(status, code, message),
  unauthorized: error(401, 'unauthorized', 'unable to authenticate'),
  serviceUnavailable: error(503, 'unavailable', 'service temporarily unavailable'),
  rateLimited: (retryAfter) => ({
    ...error(429, 'rate_limit_exceeded', 'limit of 3600 requests per hour reached'),
    headers: {
      'retry-after': String(retryAfter),
      'ratelimit-limit': '3600',
      'ratelimit-remaining': '0',
      'ratelimit-reset': String(Math.ceil(Date.now() / 1000) + retryAfter),
    },
  }),
  route(request, account, tools) {
    const { method, path, query } = request;
    if (method === 'POST' && path === '/servers') return createServer(request, account, tools);
    if (method === 'GET' && path === '/servers') {
      const name = query.get('name');
      const servers = [...account.servers.values()]
        .filter((server) => !server.deletedAt && matchesSelector(server.labels, query.get('label_selector')) && (!name || server.name === name))
        .map(serverJson);
      return list('servers', servers, query);
    }
    const serverMatch = /^\/servers\/(\d+)$/.exec(path);
    if (serverMatch) {
      const server = account.servers.get(Number(serverMatch[1]));
      if (!server || server.deletedAt) return error(404, 'not_found', `server with ID '${serverMatch[1]}' not found`);
      if (method === 'GET') return { status: 200, body: { server: serverJson(server) } };
      if (method === 'DELETE') {
        tools.delete(account, server);
        return { status: 200, body: { action: action('delete_server', server.id, tools.now()) } };
      }
    }
    if (method === 'GET' && path === '/server_types') return list('server_types', HETZNER_SERVER_TYPES.map(typeJson), query);
    if (method === 'GET' && path === '/locations') return list('locations', HETZNER_LOCATIONS, query);
    if (method === 'GET' && path === '/images') {
      const images = HETZNER_IMAGES.filter(
        (image) =>
          (!query.get('type') || query.get('type') === 'system') &&
          (!query.get('status') || query.get('status') === 'available') &&
          (!query.get('architecture') || query.get('architecture') === image.architecture) &&
          (!query.get('name') || query.get('name') === image.name),
      );
      return list('images', images.map(imageJson), query);
    }
    return error(404, 'not_found', 'not found');
  },
};

/** Starts the Hetzner Cloud stand-in; configure its `apiUrl` as HETZNER_API_URL. */
export function startHetznerStandIn(options: CloudStandInOptions): Promise<CloudStandIn> {
  return startCloudStandIn(flavor, options);
}
