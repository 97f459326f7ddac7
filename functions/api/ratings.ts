// Ratings: /rating (anyone reads, users write their own) and /admin/rating (admins: all, incl. hidden).
import { createRoute, z } from '@hono/zod-openapi';
import type { Context } from 'hono';
import { currentUser } from '../http/caller.ts';
import { ratingDeps } from '../http/deps.ts';
import type { AppEnv } from '../http/env.ts';
import { createRouter } from '../http/router.ts';
import { authErrorResponses, errorResponses, ErrorBodySchema, idParam, jsonContent, MessageSchema, userSecurity } from '../http/openapi.ts';
import {
  createRating,
  deleteAnyRating,
  getRating,
  hideOwnRating,
  listRatings,
  MAX_USER_ID_LENGTH,
  RATING_CATEGORIES,
  toAdminView,
  toPublicView,
  toUserView,
  updateAnyRating,
  updateOwnRating,
} from '../services/ratings.ts';
import { AdminRatingUpdate, NewRating, RatingCategorySchema, RatingUpdate } from '../services/inputs/ratings.ts';
import { itemEnvelope, Timestamp } from './responses.ts';

const MAX_INT = 2_147_483_647;
const DEFAULT_LIMIT = 100;
const MAX_LIMIT = 1000;

// ---- shapes -------------------------------------------------------------------------------------

const ratingFields = {
  id: z.number().int(),
  user_id: z.string(),
  obj_id: z.number().int(),
  category: z.enum(RATING_CATEGORIES).openapi({ description: 'One of the RatingCategory names' }),
  comment: z.string().nullable(),
  rate: z.number().int().nullable(),
};

const PublicRating = z.object(ratingFields).openapi('Rating', { description: 'A rating as anyone sees it' });
const RatingDetails = z
  .object({ ...ratingFields, created_at: Timestamp, updated_at: Timestamp })
  .openapi('RatingDetails', { description: 'A rating as signed-in users see it' });
const AdminRating = z
  .object({ ...ratingFields, hidden: z.boolean(), created_at: Timestamp, updated_at: Timestamp })
  .openapi('AdminRating', { description: 'A rating as admins see it' });

const queryInt = (min: number, max: number) =>
  z
    .string()
    .regex(/^\d{1,10}$/, 'must be a non-negative integer')
    .transform(Number)
    .pipe(z.number().int().min(min, `must be at least ${min}`).max(max, `must be at most ${max}`));

const RatingQuery = z.object({
  obj_id: queryInt(1, MAX_INT).optional().openapi({ type: 'integer', description: 'Only ratings of this product' }),
  category: RatingCategorySchema.optional(),
  user_id: z.string().min(1).max(MAX_USER_ID_LENGTH).optional().openapi({ description: 'Only ratings by this user' }),
  limit: queryInt(1, MAX_LIMIT)
    .optional()
    .openapi({ type: 'integer', minimum: 1, maximum: MAX_LIMIT, default: DEFAULT_LIMIT, description: 'Page size' }),
  offset: queryInt(0, MAX_INT).optional().openapi({ type: 'integer', minimum: 0, default: 0, description: 'Ratings to skip' }),
});

const params = z.object({ id: idParam });

const listEnvelope = <T extends z.ZodType>(item: T) => z.object({ message: z.string(), list: z.array(item) });
const jsonBody = <T extends z.ZodType>(schema: T) => ({ required: true, content: { 'application/json': { schema } } });

// ---- routes -------------------------------------------------------------------------------------

const tags = ['ratings'];
/** Anyone: no credentials, or a user's bearer (which adds the timestamps). */
const anyoneSecurity: Array<Record<string, string[]>> = [{}, { bearer: [] }];

const list = createRoute({
  method: 'get',
  path: '/rating',
  tags,
  summary: 'Visible ratings, newest first (signed-in users also get timestamps)',
  security: anyoneSecurity,
  request: { query: RatingQuery },
  responses: {
    200: jsonContent(listEnvelope(z.union([RatingDetails, PublicRating])), 'Visible ratings'),
    ...errorResponses,
  },
});

const get = createRoute({
  method: 'get',
  path: '/rating/{id}',
  tags,
  summary: 'One visible rating (signed-in users also get timestamps)',
  security: anyoneSecurity,
  request: { params },
  responses: {
    200: jsonContent(itemEnvelope(z.union([RatingDetails, PublicRating])), 'The rating'),
    404: jsonContent(ErrorBodySchema, 'No such visible rating'),
    ...errorResponses,
  },
});

const create = createRoute({
  method: 'post',
  path: '/rating',
  tags,
  summary: 'Rate a product in a category (once per product and category)',
  security: userSecurity,
  request: { body: jsonBody(NewRating) },
  responses: {
    201: jsonContent(itemEnvelope(RatingDetails), 'Created'),
    409: jsonContent(ErrorBodySchema, 'The caller has a visible rating of this product in this category already'),
    ...authErrorResponses,
    ...errorResponses,
  },
});

const update = createRoute({
  method: 'put',
  path: '/rating/{id}',
  tags,
  summary: 'Change an own visible rating',
  security: userSecurity,
  request: { params, body: jsonBody(RatingUpdate) },
  responses: {
    200: jsonContent(itemEnvelope(RatingDetails), 'Updated'),
    ...authErrorResponses,
    ...errorResponses,
  },
});

const remove = createRoute({
  method: 'delete',
  path: '/rating/{id}',
  tags,
  summary: 'Delete (hide) an own visible rating; admins still see it',
  security: userSecurity,
  request: { params },
  responses: {
    200: jsonContent(MessageSchema, 'Deleted'),
    ...authErrorResponses,
    ...errorResponses,
  },
});

const adminList = createRoute({
  method: 'get',
  path: '/admin/rating',
  tags,
  summary: 'Admin: all ratings including hidden ones, newest first',
  security: userSecurity,
  request: { query: RatingQuery },
  responses: {
    200: jsonContent(listEnvelope(AdminRating), 'Ratings'),
    ...authErrorResponses,
    ...errorResponses,
  },
});

const adminGet = createRoute({
  method: 'get',
  path: '/admin/rating/{id}',
  tags,
  summary: 'Admin: any rating, hidden or not',
  security: userSecurity,
  request: { params },
  responses: {
    200: jsonContent(itemEnvelope(AdminRating), 'The rating'),
    ...authErrorResponses,
    ...errorResponses,
  },
});

const adminUpdate = createRoute({
  method: 'put',
  path: '/admin/rating/{id}',
  tags,
  summary: 'Admin: change, hide or un-hide any rating',
  security: userSecurity,
  request: { params, body: jsonBody(AdminRatingUpdate) },
  responses: {
    200: jsonContent(itemEnvelope(AdminRating), 'Updated'),
    409: jsonContent(ErrorBodySchema, 'Un-hiding would give the author two visible ratings of one product and category'),
    ...authErrorResponses,
    ...errorResponses,
  },
});

const adminRemove = createRoute({
  method: 'delete',
  path: '/admin/rating/{id}',
  tags,
  summary: 'Admin: delete any rating for good',
  security: userSecurity,
  request: { params },
  responses: {
    200: jsonContent(MessageSchema, 'Deleted'),
    ...authErrorResponses,
    ...errorResponses,
  },
});

// ---- handlers -----------------------------------------------------------------------------------

/** Signed-in users get the timestamps; anyone else (anonymous, API clients, agents) the public view. */
const viewFor = (c: Context<AppEnv>) => (c.var.principal.kind === 'user' ? toUserView : toPublicView);

function filterFrom(query: z.infer<typeof RatingQuery>) {
  return {
    objId: query.obj_id,
    category: query.category,
    userId: query.user_id,
    limit: query.limit ?? DEFAULT_LIMIT,
    offset: query.offset ?? 0,
  };
}

export const ratingRoutes = createRouter()
  .openapi(list, async (c) => {
    const rows = await listRatings(ratingDeps(c), filterFrom(c.req.valid('query')), { includeHidden: false });
    return c.json({ message: 'OK', list: rows.map(viewFor(c)) }, 200);
  })
  .openapi(get, async (c) => {
    const row = await getRating(ratingDeps(c), c.req.valid('param').id, { includeHidden: false });
    return c.json({ message: 'OK', item: viewFor(c)(row) }, 200);
  })
  .openapi(create, async (c) => {
    const body = c.req.valid('json');
    const row = await createRating(ratingDeps(c), currentUser(c).id, {
      objId: body.obj_id,
      category: body.category,
      comment: body.comment,
      rate: body.rate,
    });
    return c.json({ message: 'Created', item: toUserView(row) }, 201);
  })
  .openapi(update, async (c) => {
    const row = await updateOwnRating(ratingDeps(c), currentUser(c).id, c.req.valid('param').id, c.req.valid('json'));
    return c.json({ message: 'Updated', item: toUserView(row) }, 200);
  })
  .openapi(remove, async (c) => {
    await hideOwnRating(ratingDeps(c), currentUser(c).id, c.req.valid('param').id);
    return c.json({ message: 'Deleted' }, 200);
  })
  .openapi(adminList, async (c) => {
    const rows = await listRatings(ratingDeps(c), filterFrom(c.req.valid('query')), { includeHidden: true });
    return c.json({ message: 'OK', list: rows.map(toAdminView) }, 200);
  })
  .openapi(adminGet, async (c) => {
    const row = await getRating(ratingDeps(c), c.req.valid('param').id, { includeHidden: true });
    return c.json({ message: 'OK', item: toAdminView(row) }, 200);
  })
  .openapi(adminUpdate, async (c) => {
    const row = await updateAnyRating(ratingDeps(c), c.req.valid('param').id, c.req.valid('json'));
    return c.json({ message: 'Updated', item: toAdminView(row) }, 200);
  })
  .openapi(adminRemove, async (c) => {
    await deleteAnyRating(ratingDeps(c), c.req.valid('param').id);
    return c.json({ message: 'Deleted' }, 200);
  });
