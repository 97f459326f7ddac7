// The search box of a list page (GET, so the search is in the address), and reading it back.
import { z } from 'zod';
import type { PageContext } from './page.tsx';

const term = z.string().trim().max(100).catch('');

/** The search of the page's query (`name`, default `q`): trimmed, at most 100 characters, '' when none. */
export const searchTerm = (c: PageContext, name = 'q'): string => term.parse(c.req.query(name) ?? '');

export function SearchForm(props: { action: string; name?: string; value: string; placeholder: string; label: string; button?: string }) {
  return (
    <form method="get" action={props.action} role="search">
      <input type="search" name={props.name ?? 'q'} value={props.value} placeholder={props.placeholder} aria-label={props.label} />
      <button type="submit">{props.button ?? 'Search'}</button>
    </form>
  );
}
