// The one table of rows the pages show: a header cell per column, a row per item, or a sentence
// instead when there is none.
import type { Child } from 'hono/jsx';

export interface Column<R> {
  label: string;
  /** The header cell's class (e.g. a fixed width). */
  class?: string;
  /** The data cells' class. */
  cellClass?: string;
  cell: (row: R) => Child;
}

type Attributes = Record<string, string | boolean | undefined>;

export function DataTable<R>(props: {
  columns: Array<Column<R>>;
  rows: readonly R[];
  /** Said (in a paragraph) instead of the table when there are no rows; without it the table is drawn empty. */
  empty?: Child;
  class?: string;
  /** Wrapped in Pico's horizontally scrolling container. */
  scroll?: boolean;
  rowAttributes?: (row: R) => Attributes;
  bodyAttributes?: Attributes;
}) {
  if (props.rows.length === 0 && props.empty !== undefined) return <p>{props.empty}</p>;
  const table = (
    <table class={props.class}>
      <thead>
        <tr>
          {props.columns.map((column) => (
            <th scope="col" class={column.class}>
              {column.label}
            </th>
          ))}
        </tr>
      </thead>
      <tbody {...props.bodyAttributes}>
        {props.rows.map((row) => (
          <tr {...props.rowAttributes?.(row)}>
            {props.columns.map((column) => (
              <td class={column.cellClass}>{column.cell(row)}</td>
            ))}
          </tr>
        ))}
      </tbody>
    </table>
  );
  return props.scroll ? <div class="overflow-auto">{table}</div> : table;
}
