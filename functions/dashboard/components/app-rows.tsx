// An app's ports, environment and volumes as rows of fields: on the builder's app page (a stack's app)
// and in the admin's catalog form (a catalog entry). The same field names on both, so a service's error
// path finds its field the same way.
import { RowsTable, type FieldErrors, type RowColumn } from './forms.tsx';

/** The form's field of each column, per list of rows (a field's errors are keyed `<field>.<row index>`). */
export const ROW_FIELDS = {
  ports: { host_port: 'port_host', container_port: 'port_container', protocol: 'port_protocol' },
  environment: { key: 'env_key', value: 'env_value' },
  volumes: { host_path: 'volume_host', container_path: 'volume_container' },
} as const;

export type RowList = keyof typeof ROW_FIELDS;

/** A stack app's environment row's own column: marked secret (a catalog entry has none). */
export const STACK_ENV_SECRET = 'env_secret';

/** The error key of a row's column (`port_container.0`), if the list has that column. */
export function rowFieldKey(list: string, index: string, column: string): string | undefined {
  const fields = (ROW_FIELDS as Record<string, Record<string, string> | undefined>)[list];
  const field = fields?.[column];
  return field && /^\d+$/.test(index) ? `${field}.${index}` : undefined;
}

type PortRow = { host_port: string; container_port: string; protocol?: string };
/** `secret` (stack apps): 'yes' keeps the value apart as a project secret, whatever its key. */
type EnvRow = { key: string; value: string; secret?: string };
type VolumeRow = { host_path: string; container_path: string };

const PORTS_HINT = 'An empty host port publishes none (reachable inside the stack only). Clear a row to remove it.';
const VOLUMES_HINT = 'An empty host path gives the app a named volume. Clear a row to remove it.';

/** What differs between a stack's app and a catalog entry: the protocol column, the hints and the examples. */
const KINDS = {
  stack: {
    protocol: true,
    placeholders: { host_port: 'not published', container_port: undefined, key: undefined, container_path: undefined },
    environmentHint: 'Clear a row to remove it; the .env view below edits them all at once. Values of *PASSWORD*, *SECRET*, *TOKEN* and *KEY* variables, and those marked secret, are kept apart as the project’s secrets: the compose names them ${NAME}.',
    hostPath: { label: 'Host path or volume name', placeholder: 'a named volume' },
  },
  catalog: {
    protocol: false,
    placeholders: { host_port: '8080', container_port: '80', key: 'POSTGRES_DB', container_path: '/data' },
    environmentHint: 'Default variables of the app. Clear a row to remove it.',
    hostPath: { label: 'Host path', placeholder: './data' },
  },
} as const;

export function AppRows(props: { kind: keyof typeof KINDS; ports: PortRow[]; environment: EnvRow[]; volumes: VolumeRow[]; errors?: FieldErrors }) {
  const kind = KINDS[props.kind];
  const f = ROW_FIELDS;
  const portColumns: Array<RowColumn<PortRow & Record<string, string>>> = [
    { key: 'host_port', field: f.ports.host_port, label: 'Host port', placeholder: kind.placeholders.host_port },
    { key: 'container_port', field: f.ports.container_port, label: 'Container port', placeholder: kind.placeholders.container_port },
  ];
  if (kind.protocol) {
    portColumns.push({ key: 'protocol', field: f.ports.protocol, label: 'Protocol', options: [{ value: 'tcp', label: 'tcp' }, { value: 'udp', label: 'udp' }] });
  }
  return (
    <>
      <RowsTable
        caption="Ports"
        hint={PORTS_HINT}
        rows={props.ports as Array<PortRow & Record<string, string>>}
        empty={kind.protocol ? { host_port: '', container_port: '', protocol: 'tcp' } : { host_port: '', container_port: '' }}
        columns={portColumns}
        errors={props.errors}
      />
      <RowsTable
        caption="Environment"
        hint={kind.environmentHint}
        rows={props.environment as Array<EnvRow & Record<string, string>>}
        empty={kind.protocol ? { key: '', value: '', secret: '' } : { key: '', value: '' }}
        columns={[
          { key: 'key', field: f.environment.key, label: 'Variable', placeholder: kind.placeholders.key },
          { key: 'value', field: f.environment.value, label: 'Value' },
          ...(kind.protocol ? [{ key: 'secret', field: STACK_ENV_SECRET, label: 'Secret', options: [{ value: '', label: 'no' }, { value: 'yes', label: 'yes' }] }] : []),
        ]}
        errors={props.errors}
      />
      <RowsTable
        caption="Volumes"
        hint={VOLUMES_HINT}
        rows={props.volumes}
        empty={{ host_path: '', container_path: '' }}
        columns={[
          { key: 'host_path', field: f.volumes.host_path, label: kind.hostPath.label, placeholder: kind.hostPath.placeholder },
          { key: 'container_path', field: f.volumes.container_path, label: 'Container path', placeholder: kind.placeholders.container_path },
        ]}
        errors={props.errors}
      />
    </>
  );
}
