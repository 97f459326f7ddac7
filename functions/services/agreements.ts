// Agreements: terms admins publish and users accept, once each.
import { and, eq, sql } from 'drizzle-orm';
import { databaseErrorCode, type AnyDatabase } from '../../db/client.ts';
import { agreement, userAgreement, type Agreement, type UserAgreement } from '../../db/schema.ts';
import { ApiError, conflict, notFound } from '../errors.ts';

export interface AgreementDeps {
  db: AnyDatabase;
}

export const MAX_AGREEMENT_NAME_LENGTH = 100;
export const MAX_AGREEMENT_TEXT_LENGTH = 5000;
/** `user_agreement.user_id` is varchar(50), as the reference. */
const MAX_USER_ID_LENGTH = 50;

export interface AgreementView {
  id: number;
  name: string;
  text: string;
  created_at: string;
  updated_at: string;
}

export interface UserAgreementView {
  id: number;
  agrt_id: number;
  user_id: string;
  created_at: string;
  updated_at: string;
}

export function toAgreementView(row: Agreement): AgreementView {
  return {
    id: row.id,
    name: row.name,
    text: row.text,
    created_at: row.createdAt.toISOString(),
    updated_at: row.updatedAt.toISOString(),
  };
}

export function toUserAgreementView(row: UserAgreement): UserAgreementView {
  return {
    id: row.id,
    agrt_id: row.agrtId,
    user_id: row.userId,
    created_at: row.createdAt.toISOString(),
    updated_at: row.updatedAt.toISOString(),
  };
}

const agreementNotFound = (id: number) => notFound(`Agreement ${id} not found`);

export async function createAgreement(deps: AgreementDeps, input: { name: string; text: string }): Promise<Agreement> {
  const [row] = await deps.db.insert(agreement).values({ name: input.name, text: input.text }).returning();
  return row!;
}

/** Replaces the text, and the name only when one is given (fix §13.15: the text never lands in `name`). */
export async function updateAgreement(deps: AgreementDeps, id: number, input: { name?: string; text: string }): Promise<Agreement> {
  const [row] = await deps.db
    .update(agreement)
    .set({ text: input.text, ...(input.name === undefined ? {} : { name: input.name }), updatedAt: sql`now()` })
    .where(eq(agreement.id, id))
    .returning();
  if (!row) throw agreementNotFound(id);
  return row;
}

export async function getAgreement(deps: AgreementDeps, id: number): Promise<Agreement> {
  const [row] = await deps.db.select().from(agreement).where(eq(agreement.id, id)).limit(1);
  if (!row) throw agreementNotFound(id);
  return row;
}

/**
 * The user accepts an agreement. Unknown agreement → 404; a second acceptance → 409, also when two
 * arrive at once: the unique index on (user_id, agrt_id) decides, and its violation is a 409.
 */
export async function acceptAgreement(deps: AgreementDeps, userId: string, agreementId: number): Promise<UserAgreement> {
  if (userId.length > MAX_USER_ID_LENGTH) {
    throw new ApiError(422, `Your user id is longer than ${MAX_USER_ID_LENGTH} characters and cannot be stored`);
  }
  await getAgreement(deps, agreementId);
  try {
    const [row] = await deps.db.insert(userAgreement).values({ userId, agrtId: agreementId }).returning();
    return row!;
  } catch (error) {
    const code = databaseErrorCode(error);
    if (code === '23505') throw alreadyAccepted(agreementId);
    if (code === '23503') throw agreementNotFound(agreementId); // deleted meanwhile
    throw error;
  }
}

const alreadyAccepted = (id: number) => conflict(`You have already accepted agreement ${id}`);

/** The caller's acceptance of an agreement; 404 when the agreement is unknown or not accepted by them. */
export async function getAcceptance(deps: AgreementDeps, userId: string, agreementId: number): Promise<UserAgreement> {
  const [row] = await deps.db
    .select()
    .from(userAgreement)
    .where(and(eq(userAgreement.userId, userId), eq(userAgreement.agrtId, agreementId)))
    .limit(1);
  if (row) return row;
  await getAgreement(deps, agreementId); // tell "no such agreement" from "not accepted"
  throw notFound(`You have not accepted agreement ${agreementId}`);
}
