// Ratings: a user rates a product in one of nine categories, once per (user, product, category).
// Users hide their own ratings (soft delete); admins see everything, edit, un-hide and hard-delete.
import { and, desc, eq, ne, sql, type SQL } from 'drizzle-orm';
import { databaseErrorCode, type AnyDatabase } from '../../db/client.ts';
import { product, rating, type RateCategory, type Rating } from '../../db/schema.ts';
import { ApiError, badRequest, conflict, notFound } from '../errors.ts';

export interface RatingDeps {
  db: AnyDatabase;
}

/** The category names of the API (PascalCase, as the reference's JSON), in the order of the DB enum. */
export const RATING_CATEGORIES = [
  'Application',
  'Cloud',
  'Project',
  'DeploymentSpeed',
  'Documentation',
  'Design',
  'TechSupport',
  'Price',
  'MemoryUsage',
] as const;
export type RatingCategory = (typeof RATING_CATEGORIES)[number];

// Fix §12.10 / §13.14: the exact DB labels, not a lower-cased name (`deploymentspeed` is no label).
const DB_LABEL: Record<RatingCategory, RateCategory> = {
  Application: 'application',
  Cloud: 'cloud',
  Project: 'project',
  DeploymentSpeed: 'deploymentSpeed',
  Documentation: 'documentation',
  Design: 'design',
  TechSupport: 'techSupport',
  Price: 'price',
  MemoryUsage: 'memoryUsage',
};
const API_NAME = Object.fromEntries(Object.entries(DB_LABEL).map(([name, label]) => [label, name])) as Record<RateCategory, RatingCategory>;
const BY_LOWER_CASE = new Map<string, RatingCategory>(RATING_CATEGORIES.map((name) => [name.toLowerCase(), name]));

/** `Application`, `application`, `APPLICATION`, `deploymentSpeed`… → the API name; undefined if none. */
export function parseRatingCategory(input: string): RatingCategory | undefined {
  return BY_LOWER_CASE.get(input.trim().toLowerCase());
}

export const MIN_RATE = 0;
export const MAX_RATE = 10;
export const MAX_COMMENT_LENGTH = 1000;
/** `rating.user_id` and `user_agreement.user_id` are varchar(50), as the reference. */
export const MAX_USER_ID_LENGTH = 50;

/** What anyone sees (reference "Anonymous" view). */
export interface PublicRatingView {
  id: number;
  user_id: string;
  obj_id: number;
  category: RatingCategory;
  comment: string | null;
  rate: number | null;
}

/** What signed-in users see: the public view with its timestamps. */
export interface UserRatingView extends PublicRatingView {
  created_at: string;
  updated_at: string;
}

/** What admins see: everything, including whether the rating is hidden. */
export interface AdminRatingView extends UserRatingView {
  hidden: boolean;
}

export function toPublicView(row: Rating): PublicRatingView {
  return {
    id: row.id,
    user_id: row.userId,
    obj_id: row.objId,
    category: API_NAME[row.category],
    comment: row.comment,
    rate: row.rate,
  };
}

export function toUserView(row: Rating): UserRatingView {
  return { ...toPublicView(row), created_at: row.createdAt.toISOString(), updated_at: row.updatedAt.toISOString() };
}

export function toAdminView(row: Rating): AdminRatingView {
  // A NULL `hidden` (possible in the reference's column) counts as not visible, as everywhere else.
  return { ...toUserView(row), hidden: row.hidden !== false };
}

const visible = eq(rating.hidden, false);

export interface RatingFilter {
  objId?: number;
  category?: RatingCategory;
  userId?: string;
  limit: number;
  offset: number;
}

export interface NewRatingInput {
  objId: number;
  category: RatingCategory;
  comment?: string | null;
  rate: number;
}

export interface RatingChanges {
  /** `undefined` keeps the comment, `null` clears it. */
  comment?: string | null;
  rate?: number;
}

export interface AdminRatingChanges extends RatingChanges {
  hidden?: boolean;
}

/** Visible ratings only (anyone), or all of them (admins); newest first. */
export async function listRatings(deps: RatingDeps, filter: RatingFilter, options: { includeHidden: boolean }): Promise<Rating[]> {
  const conditions: Array<SQL | undefined> = [
    options.includeHidden ? undefined : visible,
    filter.objId === undefined ? undefined : eq(rating.objId, filter.objId),
    filter.category === undefined ? undefined : eq(rating.category, DB_LABEL[filter.category]),
    filter.userId === undefined ? undefined : eq(rating.userId, filter.userId),
  ];
  return deps.db
    .select()
    .from(rating)
    .where(and(...conditions))
    .orderBy(desc(rating.id))
    .limit(filter.limit)
    .offset(filter.offset);
}

/** What can be rated (there is no API that creates products), by id. */
export async function listProducts(deps: RatingDeps, limit = 500): Promise<Array<{ id: number; objId: number; objType: string }>> {
  return deps.db.select({ id: product.id, objId: product.objId, objType: product.objType }).from(product).orderBy(product.id).limit(limit);
}

/** One rating; a hidden one exists only for admins. */
export async function getRating(deps: RatingDeps, id: number, options: { includeHidden: boolean }): Promise<Rating> {
  const [row] = await deps.db
    .select()
    .from(rating)
    .where(and(eq(rating.id, id), options.includeHidden ? undefined : visible))
    .limit(1);
  if (!row) throw notFound('Rating not found');
  return row;
}

/** Serialises every check-and-write on one (user, product, category), so two at once cannot both pass. */
async function lockRatingSlot(tx: AnyDatabase, userId: string, objId: number, category: RateCategory): Promise<void> {
  await tx.execute(sql`select pg_advisory_xact_lock(hashtext(${`rating:${userId}:${objId}:${category}`}))`);
}

async function visibleRatingExists(tx: AnyDatabase, userId: string, objId: number, category: RateCategory, exceptId?: number): Promise<boolean> {
  const [row] = await tx
    .select({ id: rating.id })
    .from(rating)
    .where(and(eq(rating.userId, userId), eq(rating.objId, objId), eq(rating.category, category), visible, exceptId === undefined ? undefined : ne(rating.id, exceptId)))
    .limit(1);
  return row !== undefined;
}

function assertStorableUserId(userId: string): void {
  if (userId.length > MAX_USER_ID_LENGTH) {
    throw new ApiError(422, `Your user id is longer than ${MAX_USER_ID_LENGTH} characters and cannot be stored`);
  }
}

/**
 * Rates a product. One visible rating per (user, product, category): a second is a 409. A rating its
 * author deleted (hidden) does not block a new one (fix §13.14); it stays, hidden, for the admins.
 */
export async function createRating(deps: RatingDeps, userId: string, input: NewRatingInput): Promise<Rating> {
  assertStorableUserId(userId);
  const category = DB_LABEL[input.category];
  try {
    return await deps.db.transaction(async (tx) => {
      await lockRatingSlot(tx, userId, input.objId, category);
      // Fix §5.5: the FK is rating.obj_id → product.id, so that is the column to check.
      const [target] = await tx.select({ id: product.id }).from(product).where(eq(product.id, input.objId)).limit(1);
      if (!target) throw unknownProduct(input.objId);
      if (await visibleRatingExists(tx, userId, input.objId, category)) {
        throw conflict(`You have already rated product ${input.objId} in category ${input.category}`);
      }
      const [inserted] = await tx
        .insert(rating)
        .values({ userId, objId: input.objId, category, comment: input.comment ?? null, rate: input.rate, hidden: false })
        .returning();
      return inserted!;
    });
  } catch (error) {
    // The product vanished between the check and the insert (there is no API that deletes products).
    if (databaseErrorCode(error) === '23503') throw unknownProduct(input.objId);
    throw error;
  }
}

function unknownProduct(objId: number): ApiError {
  const message = `No product with id ${objId}`;
  return badRequest(`Invalid request body: body.obj_id: ${message}`, [{ path: 'body.obj_id', message }]);
}

function changesToSet(changes: RatingChanges): Partial<Pick<Rating, 'comment' | 'rate'>> {
  const set: Partial<Pick<Rating, 'comment' | 'rate'>> = {};
  if (changes.comment !== undefined) set.comment = changes.comment;
  if (changes.rate !== undefined) set.rate = changes.rate;
  return set;
}

/** The author edits their own visible rating; anyone else's, or a hidden one, is 404. */
export async function updateOwnRating(deps: RatingDeps, userId: string, id: number, changes: RatingChanges): Promise<Rating> {
  const [row] = await deps.db
    .update(rating)
    .set({ ...changesToSet(changes), updatedAt: sql`now()` })
    .where(and(eq(rating.id, id), eq(rating.userId, userId), visible))
    .returning();
  if (!row) throw notFound('Rating not found');
  return row;
}

/** The author hides their own visible rating (soft delete); anyone else's, or a hidden one, is 404. */
export async function hideOwnRating(deps: RatingDeps, userId: string, id: number): Promise<void> {
  const [row] = await deps.db
    .update(rating)
    .set({ hidden: true, updatedAt: sql`now()` })
    .where(and(eq(rating.id, id), eq(rating.userId, userId), visible))
    .returning({ id: rating.id });
  if (!row) throw notFound('Rating not found');
}

/** Admins edit any rating; un-hiding one is refused (409) while its author has another visible one. */
export async function updateAnyRating(deps: RatingDeps, id: number, changes: AdminRatingChanges): Promise<Rating> {
  return deps.db.transaction(async (tx) => {
    // user, product and category never change, so the slot to lock is known before locking.
    const [current] = await tx.select().from(rating).where(eq(rating.id, id)).limit(1);
    if (!current) throw notFound('Rating not found');
    if (changes.hidden === false) {
      await lockRatingSlot(tx, current.userId, current.objId, current.category);
      if (await visibleRatingExists(tx, current.userId, current.objId, current.category, id)) {
        throw conflict(`The author has another visible rating of product ${current.objId} in category ${API_NAME[current.category]}`);
      }
    }
    const set = { ...changesToSet(changes), ...(changes.hidden === undefined ? {} : { hidden: changes.hidden }) };
    const [row] = await tx
      .update(rating)
      .set({ ...set, updatedAt: sql`now()` })
      .where(eq(rating.id, id))
      .returning();
    if (!row) throw notFound('Rating not found');
    return row;
  });
}

/** Admins remove a rating for good. */
export async function deleteAnyRating(deps: RatingDeps, id: number): Promise<void> {
  const [row] = await deps.db.delete(rating).where(eq(rating.id, id)).returning({ id: rating.id });
  if (!row) throw notFound('Rating not found');
}
