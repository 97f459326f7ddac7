import { eq, type Column, type SQL } from 'drizzle-orm';
import { ADMIN_ROLE, type AuthenticatedUser } from '../principal.ts';

/** Whose rows a call may see or change: one user's, or (admins) anyone's. */
export type Scope = { ownerId: string } | { admin: true };

/** A signed-in user's scope: admins reach anyone's rows, everyone else their own. */
export function scopeOfUser(user: Pick<AuthenticatedUser, 'id' | 'role'>): Scope {
  return user.role === ADMIN_ROLE ? { admin: true } : { ownerId: user.id };
}

/** The WHERE condition that keeps a query inside the scope (none for admins). */
export function withinScope(ownerColumn: Column, scope: Scope): SQL | undefined {
  return 'ownerId' in scope ? eq(ownerColumn, scope.ownerId) : undefined;
}
