import { eq, type Column, type SQL } from 'drizzle-orm';

/** Whose rows a call may see or change: one user's, or (admins) anyone's. */
export type Scope = { ownerId: string } | { admin: true };

/** The WHERE condition that keeps a query inside the scope (none for admins). */
export function withinScope(ownerColumn: Column, scope: Scope): SQL | undefined {
  return 'ownerId' in scope ? eq(ownerColumn, scope.ownerId) : undefined;
}
