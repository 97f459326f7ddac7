// What the built-in engine sends to a server: the project's compose with its secrets taken out (each
// becomes `${NAME}`, its value travels only as deploy_app's env_vars), and the services with the host
// ports they publish, from which the deployment's addresses are made.
import { isMap, isScalar, isSeq, parseDocument, type YAMLMap } from 'yaml';

/** Environment keys whose values are secrets: they never stay in the compose text. */
const SECRET_KEY = /PASSWORD|PASSWD|SECRET|TOKEN|KEY|CREDENTIAL/i;

export interface RevisionService {
  name: string;
  /** Host ports the service publishes. */
  ports: number[];
  domain: string | null;
}

export interface PreparedRevision {
  /** The compose YAML to apply, secrets as `${NAME}`. */
  compose: string;
  /** The values of those names, for deploy_app's env_vars (compose reads them from the .env beside the file). */
  env: Record<string, string>;
  services: RevisionService[];
}

const envName = (service: string, key: string) => `${service}_${key}`.toUpperCase().replace(/[^A-Z0-9_]/g, '_');

/** Splits a compose document into what may be seen (the text) and what may not (the env values). */
export function prepareRevision(composeYaml: string, domains: Record<string, string | null> = {}): PreparedRevision {
  const document = parseDocument(composeYaml);
  const env: Record<string, string> = {};
  const services: RevisionService[] = [];
  const servicesNode = document.get('services');
  if (isMap(servicesNode)) {
    for (const pair of servicesNode.items) {
      const name = String(isScalar(pair.key) ? pair.key.value : pair.key);
      const service = pair.value as YAMLMap | null;
      if (!isMap(service)) continue;
      const environment = service.get('environment');
      if (isMap(environment)) {
        for (const entry of environment.items) {
          const key = String(isScalar(entry.key) ? entry.key.value : entry.key);
          const value = isScalar(entry.value) ? entry.value.value : entry.value;
          if (!SECRET_KEY.test(key) || value === null || value === undefined || typeof value === 'object') continue;
          const text = String(value);
          if (/^\$\{[A-Z0-9_]+\}$/.test(text)) continue;
          const variable = envName(name, key);
          env[variable] = text;
          environment.set(key, `\${${variable}}`);
        }
      } else if (isSeq(environment)) {
        environment.items.forEach((item, index) => {
          const line = String(isScalar(item) ? item.value : item);
          const separator = line.indexOf('=');
          if (separator < 1) return;
          const key = line.slice(0, separator);
          if (!SECRET_KEY.test(key)) return;
          const variable = envName(name, key);
          env[variable] = line.slice(separator + 1);
          environment.set(index, `${key}=\${${variable}}`);
        });
      }
      services.push({ name, ports: publishedPorts(service), domain: domains[name] ?? null });
    }
  }
  return { compose: document.toString(), env, services };
}

function publishedPorts(service: YAMLMap): number[] {
  const ports = service.get('ports');
  if (!isSeq(ports)) return [];
  const published = new Set<number>();
  for (const item of ports.items) {
    if (isMap(item)) {
      const value = Number(item.get('published'));
      if (Number.isInteger(value) && value > 0) published.add(value);
    } else if (isScalar(item)) {
      // "8080:80", "127.0.0.1:8080:80/tcp"
      const parts = String(item.value).split('/')[0]!.split(':');
      if (parts.length >= 2) {
        const value = Number(parts[parts.length - 2]);
        if (Number.isInteger(value) && value > 0) published.add(value);
      }
    }
  }
  return [...published];
}

/** Where a user reaches the stack: each service's domain, else http://<server address>:<published port>. */
export function addressesOf(services: RevisionService[], serverAddress: string | null): Array<{ service: string; url: string }> {
  const addresses: Array<{ service: string; url: string }> = [];
  for (const service of services) {
    if (service.domain) addresses.push({ service: service.name, url: `https://${service.domain}` });
    else if (serverAddress) {
      const host = serverAddress.includes(':') ? `[${serverAddress}]` : serverAddress;
      for (const port of service.ports) addresses.push({ service: service.name, url: `http://${host}:${port}` });
    }
  }
  return addresses;
}

/** Domains per app code, from the project form's apps. */
export function domainsOf(metadata: unknown): Record<string, string | null> {
  const custom = (metadata as { custom?: Record<string, unknown> } | null)?.custom ?? {};
  const domains: Record<string, string | null> = {};
  for (const list of ['web', 'service', 'feature']) {
    const apps = custom[list];
    if (!Array.isArray(apps)) continue;
    for (const app of apps as Array<{ code?: unknown; domain?: unknown }>) {
      if (typeof app.code === 'string') domains[app.code] = typeof app.domain === 'string' && app.domain !== '' ? app.domain : null;
    }
  }
  return domains;
}
