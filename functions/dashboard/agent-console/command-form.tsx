// The agent console's command form: the types the real agent knows first, parameters as JSON checked
// exactly as POST /api/v1/commands checks them (services/inputs/commands.ts, services/command-types.ts),
// priority and timeout; reading a posted form back into a command or the failure to show.
import { z } from 'zod';
import { fieldId, FormMessage, pageIdempotencyKey, SelectField, type FormFailure } from '../components/forms.tsx';
import type { FormFields } from '../components/page.tsx';
import { AGENT_COMMAND_TYPES, checkCommandParameters, isTypedCommand } from '../../services/command-types.ts';
import { PRIORITIES, type Priority } from '../../services/commands.ts';
import { containsNul } from '../../services/inputs/text.ts';

const MAX_PARAMETERS_CHARS = 64 * 1024;
/** The form's choice for a type that is not in the list: it is typed into its own field. */
const OTHER_TYPE = 'other';

/** Example parameters per type, for the form's placeholder. */
const EXAMPLES: Record<string, string> = {
  health: '{"app_code": "web", "include_metrics": true}',
  logs: '{"app_code": "web", "limit": 100}',
  restart: '{"app_code": "web"}',
  stop: '{"app_code": "web", "timeout": 30}',
  start: '{"app_code": "web"}',
  error_summary: '{"hours": 24}',
  exec: '{"command": "uname -a"}',
  deploy_app: '{"app_code": "web"}',
  remove_app: '{"app_code": "web"}',
};

const TYPE_OPTIONS = [
  ...AGENT_COMMAND_TYPES.map((type) => ({ value: type, label: isTypedCommand(type) ? `${type} (parameters checked here)` : type })),
  { value: OTHER_TYPE, label: 'Another type…' },
];

/** As services/inputs/commands.ts takes command_type. */
const commandType = z
  .string()
  .trim()
  .min(1, 'type a command type')
  .max(100, 'must be at most 100 characters')
  .regex(/^[A-Za-z0-9_.:-]+$/, 'must be a command name: letters, digits and _ . : -');

const timeoutSeconds = z
  .string()
  .trim()
  .transform((value) => (value === '' ? '300' : value))
  .pipe(z.string().regex(/^\d{1,6}$/, 'must be a whole number of seconds, 1 to 86400'))
  .transform(Number)
  .pipe(z.number().int().min(1, 'must be 1 to 86400').max(86_400, 'must be 1 to 86400'));

/** What the command form holds: as posted, or a new form's defaults. */
export interface CommandValues {
  command_type: string;
  other_type: string;
  parameters: string;
  priority: string;
  timeout_seconds: string;
  idempotency_key: string;
}

export const newValues = (): CommandValues => ({
  command_type: 'health',
  other_type: '',
  parameters: '',
  priority: 'normal',
  timeout_seconds: '300',
  idempotency_key: crypto.randomUUID(),
});

export function postedValues(fields: FormFields): CommandValues {
  return {
    command_type: fields.one('command_type').slice(0, 100),
    other_type: fields.one('other_type').slice(0, 200),
    parameters: fields.raw('parameters').slice(0, MAX_PARAMETERS_CHARS + 1),
    priority: fields.one('priority').slice(0, 20),
    timeout_seconds: fields.one('timeout_seconds').slice(0, 20),
    idempotency_key: fields.one('idempotency_key').slice(0, 100),
  };
}

interface ParsedCommand {
  command_type: string;
  priority: Priority;
  parameters: Record<string, unknown>;
  timeout_seconds: number;
  idempotencyKey?: string;
}

/** zod's words for a missing key, in the form's. */
const issueText = (message: string) => (/received undefined$/.test(message) ? 'is required' : message);

/** The posted form as a command, or the failure to show next to its fields (never thrown: always a 400 page). */
export function parseCommand(values: CommandValues): { command: ParsedCommand } | { failure: FormFailure } {
  const fields: Record<string, string> = {};
  const typeField = values.command_type === OTHER_TYPE ? 'other_type' : 'command_type';
  const type = commandType.safeParse(values.command_type === OTHER_TYPE ? values.other_type : values.command_type);
  if (!type.success) fields[typeField] = type.error.issues[0]!.message;

  const priority = z.enum(PRIORITIES).safeParse(values.priority.toLowerCase() || 'normal');
  if (!priority.success) fields.priority = `must be one of ${PRIORITIES.join(', ')}`;

  const timeout = timeoutSeconds.safeParse(values.timeout_seconds);
  if (!timeout.success) fields.timeout_seconds = timeout.error.issues[0]!.message;

  let parameters: Record<string, unknown> | undefined;
  if (values.parameters.length > MAX_PARAMETERS_CHARS) {
    fields.parameters = `must be at most ${MAX_PARAMETERS_CHARS / 1024} KiB of JSON`;
  } else if (values.parameters.trim() === '') {
    parameters = {};
  } else {
    try {
      const parsed: unknown = JSON.parse(values.parameters);
      const record = z.record(z.string(), z.unknown()).safeParse(parsed);
      // PostgreSQL's jsonb takes no NUL character (\u0000), in a key or a value.
      if (!record.success) fields.parameters = 'must be a JSON object, e.g. {"app_code": "web"}';
      else if (containsNul(record.data)) fields.parameters = 'must not contain NUL characters (\\u0000)';
      else parameters = record.data;
    } catch (error) {
      fields.parameters = `is not JSON: ${error instanceof Error ? error.message.slice(0, 200) : 'it cannot be read'}`;
    }
  }

  let headline = 'Some fields need a change';
  if (type.success && parameters !== undefined) {
    const issues = checkCommandParameters(type.data, parameters);
    if (issues.length > 0) {
      fields.parameters = issues.map((issue) => `${issue.path.map(String).join('.') || 'parameters'}: ${issueText(issue.message)}`).join('; ');
      headline = `Invalid parameters for ${type.data}`;
    }
  }

  const key = z.uuid().optional().safeParse(values.idempotency_key || undefined);
  if (!key.success) return { failure: { message: 'This form could not be read: open the page again and send the form from there.', fields } };
  if (Object.keys(fields).length > 0 || !type.success || !priority.success || !timeout.success || parameters === undefined) {
    return { failure: { message: headline, fields } };
  }
  return {
    command: {
      command_type: type.data,
      priority: priority.data,
      parameters,
      timeout_seconds: timeout.data,
      idempotencyKey: key.data === undefined ? undefined : pageIdempotencyKey(key.data),
    },
  };
}

export function CommandForm(props: { url: string; values: CommandValues; failure?: FormFailure }) {
  const { values, failure } = props;
  const errors = failure?.fields;
  const otherId = fieldId('other_type');
  const parametersId = fieldId('parameters');
  const parametersHelp = errors?.parameters ?? 'A JSON object. The typed commands’ parameters are checked before the command is queued.';
  const typeValue = TYPE_OPTIONS.some((option) => option.value === values.command_type) ? values.command_type : OTHER_TYPE;
  return (
    <form method="post" action={`${props.url}/commands`} id="command-form">
      <FormMessage failure={failure} />
      <input type="hidden" name="idempotency_key" value={values.idempotency_key} />
      <SelectField label="Type" name="command_type" value={typeValue} options={TYPE_OPTIONS} errors={errors} required />
      <div data-other-type>
        <label for={otherId}>Another type</label>
        <input
          id={otherId}
          name="other_type"
          type="text"
          value={values.other_type}
          autocomplete="off"
          placeholder="e.g. restart_service"
          aria-invalid={errors?.other_type ? 'true' : undefined}
          aria-describedby={`${otherId}-help`}
        />
        <small id={`${otherId}-help`}>{errors?.other_type ?? 'Used when the type is “Another type…”: the agent runs it as a (restricted) shell command.'}</small>
      </div>
      <label for={parametersId}>Parameters</label>
      <textarea
        id={parametersId}
        name="parameters"
        rows={4}
        spellcheck={false}
        placeholder={EXAMPLES[typeValue] ?? '{}'}
        data-examples={JSON.stringify(EXAMPLES)}
        aria-invalid={errors?.parameters ? 'true' : undefined}
        aria-describedby={`${parametersId}-help`}
      >
        {values.parameters}
      </textarea>
      <small id={`${parametersId}-help`}>{parametersHelp}</small>
      <div class="grid-2">
        <SelectField label="Priority" name="priority" value={values.priority || 'normal'} options={PRIORITIES.map((p) => ({ value: p, label: p }))} errors={errors} />
        <div>
          <label for={fieldId('timeout_seconds')}>Timeout (seconds)</label>
          <input
            id={fieldId('timeout_seconds')}
            name="timeout_seconds"
            type="number"
            min="1"
            max="86400"
            value={values.timeout_seconds}
            aria-invalid={errors?.timeout_seconds ? 'true' : undefined}
            aria-describedby={errors?.timeout_seconds ? `${fieldId('timeout_seconds')}-help` : undefined}
          />
          {errors?.timeout_seconds && <small id={`${fieldId('timeout_seconds')}-help`}>{errors.timeout_seconds}</small>}
        </div>
      </div>
      <button type="submit">Send command</button>
    </form>
  );
}
