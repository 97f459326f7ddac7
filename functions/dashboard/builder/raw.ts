// Values of the raw project form as the builder's pages read them: any stored shape, shown as text.

/** A raw value as text ('' for none). */
export const str = (value: unknown) => (typeof value === 'string' ? value : value === null || value === undefined ? '' : String(value));

/** A raw list, or none. */
export const rows = <T>(value: unknown): T[] => (Array.isArray(value) ? (value as T[]) : []);
