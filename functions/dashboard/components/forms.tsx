// Labelled form fields that show the server's message for the field they hold (Pico styles
// aria-invalid inputs and the <small> helper after them).
import type { Child } from 'hono/jsx';
import { ZodError } from 'zod';
import { ApiError, zodFieldErrors } from '../../errors.ts';
import { DataTable } from './data-table.tsx';

/** Messages by field name, as the form names its fields. */
export type FieldErrors = Record<string, string>;

export interface FormFailure {
  message: string;
  fields: FieldErrors;
}

/**
 * The page's view of a failed save: the message, and each `errors[].path` of the error envelope put
 * on the form field it names (`fieldOf` maps the service's path to the form's name; unmapped paths
 * stay in the message).
 */
export function formFailure(error: ApiError | ZodError, fieldOf: (path: string) => string | undefined = (path) => path): FormFailure {
  const errors = error instanceof ZodError ? zodFieldErrors(error) : (error.errors ?? []);
  const fields: FieldErrors = {};
  const unplaced: string[] = [];
  for (const { path, message } of errors) {
    const field = fieldOf(path);
    if (field === undefined) unplaced.push(`${path}: ${message}`);
    else fields[field] ??= message;
  }
  const headline = error instanceof ZodError ? 'Some fields need a change' : error.message;
  return { message: [headline, ...unplaced].join('; '), fields };
}

/** A failure a page can show next to its form, or undefined for an error the page must not swallow. */
export function asFormFailure(error: unknown, fieldOf?: (path: string) => string | undefined): FormFailure | undefined {
  if (error instanceof ZodError) return formFailure(error, fieldOf);
  // 503: a dependency is down (Docker Hub); the form keeps what was typed so a retry is one click.
  if (error instanceof ApiError && ((error.status < 500 && error.status !== 404 && error.status !== 403) || error.status === 503)) return formFailure(error, fieldOf);
  return undefined;
}

export const fieldId = (name: string) => `field-${name.replace(/[^A-Za-z0-9_-]/g, '-')}`;

interface FieldProps {
  label: string;
  name: string;
  value?: string | number | null;
  type?: string;
  errors?: FieldErrors;
  hint?: string;
  required?: boolean;
  placeholder?: string;
  autocomplete?: string;
  /** For rows of a table: the label is read by screen readers only. */
  hiddenLabel?: boolean;
  /** The key in `errors`, when it differs from the input's name (rows share a name). */
  errorKey?: string;
}

export function Field(props: FieldProps) {
  const id = fieldId(props.errorKey ?? props.name);
  const error = props.errors?.[props.errorKey ?? props.name];
  const help = error ?? props.hint;
  const input = (
    <input
      id={id}
      name={props.name}
      type={props.type ?? 'text'}
      value={props.value ?? ''}
      required={props.required}
      placeholder={props.placeholder}
      autocomplete={props.autocomplete ?? 'off'}
      aria-label={props.hiddenLabel ? props.label : undefined}
      aria-invalid={error ? 'true' : undefined}
      aria-describedby={help ? `${id}-help` : undefined}
    />
  );
  const helper = help && <small id={`${id}-help`}>{help}</small>;
  // The label beside (not around) the input, so the field's accessible name is the label alone; the
  // wrapper keeps the three together in a grid.
  return (
    <div>
      {!props.hiddenLabel && <label for={id}>{props.label}</label>}
      {input}
      {helper}
    </div>
  );
}

export function SelectField(props: {
  label: string;
  name: string;
  value?: string | null;
  options: Array<{ value: string; label: string }>;
  errors?: FieldErrors;
  required?: boolean;
  hiddenLabel?: boolean;
  errorKey?: string;
}) {
  const id = fieldId(props.errorKey ?? props.name);
  const error = props.errors?.[props.errorKey ?? props.name];
  const select = (
    <select id={id} name={props.name} required={props.required} aria-label={props.hiddenLabel ? props.label : undefined} aria-invalid={error ? 'true' : undefined} aria-describedby={error ? `${id}-help` : undefined}>
      {props.options.map((option) => (
        <option value={option.value} selected={option.value === props.value}>
          {option.label}
        </option>
      ))}
    </select>
  );
  const helper = error && <small id={`${id}-help`}>{error}</small>;
  return (
    <div>
      {!props.hiddenLabel && <label for={id}>{props.label}</label>}
      {select}
      {helper}
    </div>
  );
}

/** The message of a failed form, announced to screen readers. */
export function FormMessage(props: { failure?: FormFailure; children?: Child }) {
  if (!props.failure) return null;
  return (
    <p role="alert" class="form-error">
      <strong>{props.failure.message}</strong>
    </p>
  );
}

/** A POST button in its own small form (delete, disable, ...); `confirm` asks first. */
export function ActionButton(props: { action: string; label: string; confirm?: string; variant?: 'secondary' | 'contrast'; outline?: boolean; fields?: Record<string, string> }) {
  const classes = [props.variant, props.outline ? 'outline' : undefined].filter(Boolean).join(' ') || undefined;
  return (
    <form method="post" action={props.action} class="inline" data-confirm={props.confirm}>
      {Object.entries(props.fields ?? {}).map(([name, value]) => (
        <input type="hidden" name={name} value={value} />
      ))}
      <button type="submit" class={classes}>
        {props.label}
      </button>
    </form>
  );
}

export interface RowColumn<R> {
  key: keyof R & string;
  /** The repeated input's name; its errors are keyed `<field>.<row index>`. */
  field: string;
  label: string;
  placeholder?: string;
  /** A select instead of a text input. */
  options?: Array<{ value: string; label: string }>;
}

/**
 * Rows edited as repeated fields (one input per column and row), with one empty row to add one; a row
 * left empty is dropped when read (FormFields.rows), which is how a row is removed.
 */
export function RowsTable<R extends Record<string, string>>(props: { caption: string; hint: string; rows: R[]; empty: R; columns: Array<RowColumn<R>>; errors?: FieldErrors }) {
  const rows = [...props.rows, props.empty].map((row, index) => ({ row, index }));
  return (
    <fieldset>
      <legend>{props.caption}</legend>
      <small>{props.hint}</small>
      <DataTable
        rows={rows}
        columns={props.columns.map((column) => ({
          label: column.label,
          cell: ({ row, index }: { row: R; index: number }) => {
            const common = { label: `${column.label}, row ${index + 1}`, hiddenLabel: true, name: column.field, errorKey: `${column.field}.${index}`, errors: props.errors };
            return column.options ? <SelectField {...common} value={row[column.key]} options={column.options} /> : <Field {...common} value={row[column.key]} placeholder={column.placeholder} />;
          },
        }))}
      />
    </fieldset>
  );
}

/** A number field as the API's JSON would carry it: '' is none (null), a number a number, anything else the text, for the schema to refuse. */
export const formNumber = (raw: string) => (raw === '' ? null : /^[+-]?\d+(\.\d+)?$/.test(raw) ? Number(raw) : raw);

/** The Idempotency-Key of a form's own request key, apart from any key the user's API calls send. */
export const pageIdempotencyKey = (key: string) => `dashboard:${key}`;
