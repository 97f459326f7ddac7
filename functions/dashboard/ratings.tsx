// Ratings: the user's own visible ratings, a form to rate a product (an app or a stack) in one of the
// categories, and editing and hiding (the API's delete) of their own. The form is checked by the API's
// own schemas (NewRating, RatingUpdate), so the page and the API accept and refuse the same input.
import { Hono } from 'hono';
import { z } from 'zod';
import { ratingDeps } from '../http/deps.ts';
import type { AppEnv } from '../http/env.ts';
import { ApiError, notFound } from '../errors.ts';
import { ActionButton, asFormFailure, fieldId, FormMessage, SelectField, type FieldErrors, type FormFailure } from './components/forms.tsx';
import { DataTable } from './components/data-table.tsx';
import { formatDate } from './components/dates.ts';
import type { AuthenticatedUser } from '../principal.ts';
import {
  createRating,
  getRating,
  hideOwnRating,
  listProducts,
  listRatings,
  MAX_COMMENT_LENGTH,
  MAX_RATE,
  MIN_RATE,
  RATING_CATEGORIES,
  toUserView,
  updateOwnRating,
  type UserRatingView,
} from '../services/ratings.ts';
import { NewRating, RatingUpdate } from '../services/inputs/ratings.ts';
import { FormFields, idParam, redirectWithNotice, renderPage, userPage, type PageContext } from './components/page.tsx';

/** How many of their own ratings the page lists (newest first). */
const LIST_LIMIT = 500;

// ---- the form, read into what the API's schemas take ------------------------------------------------

/** A number field: '' is missing, digits a number, anything else left as text for the schema to refuse. */
const numberOrText = (value: unknown) => (typeof value !== 'string' || value === '' ? undefined : /^[+-]?\d{1,10}$/.test(value) ? Number(value) : value);
/** An empty comment is none (and, when editing, clears it). */
const commentOrNull = (value: unknown) => (typeof value === 'string' && value.trim() !== '' ? value.trim() : null);
const record = (value: unknown) => (typeof value === 'object' && value !== null ? (value as Record<string, unknown>) : {});

/** The posted strings read as the API's JSON would carry them, then the API's own schemas. */
const newRatingForm = z.preprocess((value) => {
  const form = record(value);
  return { obj_id: numberOrText(form.obj_id), category: form.category === '' ? undefined : form.category, rate: numberOrText(form.rate), comment: commentOrNull(form.comment) };
}, NewRating);
const ratingUpdateForm = z.preprocess((value) => {
  const form = record(value);
  return { rate: numberOrText(form.rate), comment: commentOrNull(form.comment) };
  // The form always sends both: an empty rate is a mistake here, not "keep it" as in the API.
}, RatingUpdate.refine((changes) => changes.rate !== undefined, { path: ['rate'], message: 'is required' }));

/** Words for a form where the schema has none of its own: a field left empty, or a number that is not one. */
const formMessages = (issue: { code?: string; input?: unknown; expected?: unknown }) => {
  if (issue.input === undefined) return 'is required';
  if (issue.code === 'invalid_value') return `must be one of ${RATING_CATEGORIES.join(', ')}`;
  return issue.code === 'invalid_type' && issue.expected === 'number' ? 'must be a whole number' : undefined;
};

interface RatingFormValues {
  obj_id?: string;
  category?: string;
  rate?: string;
  comment?: string;
}

const readForm = (fields: FormFields): RatingFormValues => ({
  obj_id: fields.one('obj_id'),
  category: fields.one('category'),
  rate: fields.one('rate'),
  comment: fields.raw('comment'),
});

/** The API's paths (`body.obj_id` from the service, `rate` from the schema) as the form's names. */
const fieldOf = (path: string) => {
  const name = path.replace(/^body\./, '');
  return ['obj_id', 'category', 'rate', 'comment'].includes(name) ? name : undefined;
};

interface Failed {
  values: RatingFormValues;
  failure: FormFailure;
  status: number;
}

/** A refused save as the form shows it, or undefined for an error that is not the form's (404, 5xx). */
function failedSave(error: unknown, values: RatingFormValues): Failed | undefined {
  const failure = asFormFailure(error, fieldOf);
  if (!failure || (error instanceof ApiError && error.status >= 500)) return undefined;
  return { values, failure, status: error instanceof ApiError ? error.status : 400 };
}

// ---- pieces -------------------------------------------------------------------------------------------

/** `DeploymentSpeed` → `Deployment speed`. */
const categoryLabel = (name: string) => name.replace(/([a-z])([A-Z])/g, '$1 $2').replace(/ ([A-Z])/g, (_, letter: string) => ` ${letter.toLowerCase()}`);
const categoryOptions = [{ value: '', label: 'Choose a category' }, ...RATING_CATEGORIES.map((name) => ({ value: name, label: categoryLabel(name) }))];
const rateOptions = [
  { value: '', label: 'Choose a rate' },
  ...Array.from({ length: MAX_RATE - MIN_RATE + 1 }, (_, i) => String(MIN_RATE + i)).map((value) => ({ value, label: value })),
];

function CommentField(props: { value?: string | null; errors?: FieldErrors }) {
  const id = fieldId('comment');
  const error = props.errors?.comment;
  // As Field: the label beside the control, the message right after it.
  return (
    <>
      <label for={id}>Comment (optional)</label>
      <textarea id={id} name="comment" rows={3} aria-invalid={error ? 'true' : undefined} aria-describedby={`${id}-help`}>
        {props.value ?? ''}
      </textarea>
      <small id={`${id}-help`}>{error ?? `At most ${MAX_COMMENT_LENGTH} characters.`}</small>
    </>
  );
}

// ---- pages --------------------------------------------------------------------------------------------

async function ratingsPage(c: PageContext, user: AuthenticatedUser, failed?: Failed) {
  const [rows, products] = await Promise.all([
    listRatings(ratingDeps(c), { userId: user.id, limit: LIST_LIMIT, offset: 0 }, { includeHidden: false }),
    listProducts(ratingDeps(c)),
  ]);
  const ratings = rows.map(toUserView);
  const values = failed?.values ?? {};
  const errors = failed?.failure.fields;
  const productOptions = [{ value: '', label: 'Choose what to rate' }, ...products.map((p) => ({ value: String(p.id), label: `#${p.id}: ${p.objType} ${p.objId}` }))];
  return renderPage(c, {
    title: 'Ratings',
    status: failed?.status ?? 200,
    body: (
      <>
        <h1>Ratings</h1>
        <article>
          <h2>Rate an app or a stack</h2>
          {products.length === 0 ? (
            <p>There is nothing to rate yet.</p>
          ) : (
            <form method="post" action="/ratings">
              <FormMessage failure={failed?.failure} />
              <SelectField label="What to rate" name="obj_id" value={values.obj_id} options={productOptions} errors={errors} required />
              <SelectField label="Category" name="category" value={values.category} options={categoryOptions} errors={errors} required />
              <SelectField label={`Rate (${MIN_RATE} to ${MAX_RATE})`} name="rate" value={values.rate} options={rateOptions} errors={errors} required />
              <CommentField value={values.comment} errors={errors} />
              <button type="submit">Save rating</button>
            </form>
          )}
        </article>
        <h2>Your ratings</h2>
        <DataTable
          rows={ratings}
          empty="No ratings yet."
          rowAttributes={(r) => ({ id: `rating-${r.id}` })}
          columns={[
            { label: 'Product', cell: (r) => `#${r.obj_id}` },
            { label: 'Category', cell: (r) => categoryLabel(r.category) },
            { label: 'Rate', cell: (r) => r.rate ?? '' },
            { label: 'Comment', cell: (r) => r.comment ?? '' },
            { label: 'Changed', cell: (r) => formatDate(r.updated_at) },
            {
              label: 'Actions',
              cell: (r) => (
                <>
                  <a href={`/ratings/${r.id}/edit`} aria-label={`Edit rating ${r.id}`}>
                    Edit
                  </a>{' '}
                  <ActionButton action={`/ratings/${r.id}/delete`} label="Delete" variant="secondary" outline confirm={deleteQuestion(r)} />
                </>
              ),
            },
          ]}
        />
      </>
    ),
  });
}

const deleteQuestion = (r: UserRatingView) => `Delete your ${categoryLabel(r.category).toLowerCase()} rating of product #${r.obj_id}?`;

/** The user's own visible rating; anyone else's, a hidden one or none at all is the same 404. */
async function ownRating(c: PageContext, user: AuthenticatedUser, id: number): Promise<UserRatingView> {
  let row;
  try {
    row = await getRating(ratingDeps(c), id, { includeHidden: false });
  } catch (error) {
    if (error instanceof ApiError && error.status === 404) throw notFound('Rating not found');
    throw error;
  }
  if (row.userId !== user.id) throw notFound('Rating not found');
  return toUserView(row);
}

async function editPage(c: PageContext, user: AuthenticatedUser, id: number, failed?: Failed) {
  const rating = await ownRating(c, user, id);
  const values = failed?.values ?? { rate: rating.rate === null ? '' : String(rating.rate), comment: rating.comment ?? '' };
  return renderPage(c, {
    title: 'Edit rating',
    status: failed?.status ?? 200,
    body: (
      <>
        <h1>{`Edit your ${categoryLabel(rating.category).toLowerCase()} rating of product #${rating.obj_id}`}</h1>
        <article>
          <form method="post" action={`/ratings/${rating.id}`}>
            <FormMessage failure={failed?.failure} />
            <SelectField label={`Rate (${MIN_RATE} to ${MAX_RATE})`} name="rate" value={values.rate} options={rateOptions} errors={failed?.failure.fields} required />
            <CommentField value={values.comment} errors={failed?.failure.fields} />
            <button type="submit">Save changes</button> <a href="/ratings">Cancel</a>
          </form>
        </article>
        <ActionButton action={`/ratings/${rating.id}/delete`} label="Delete this rating" variant="secondary" outline confirm={deleteQuestion(rating)} />
      </>
    ),
  });
}

export const ratingPages = new Hono<AppEnv>()
  .get('/ratings', userPage((c, user) => ratingsPage(c, user)))
  .post(
    '/ratings',
    userPage(async (c, user) => {
      const values = readForm(await FormFields.of(c));
      try {
        const input = newRatingForm.parse(values, { error: formMessages });
        const row = await createRating(ratingDeps(c), user.id, { objId: input.obj_id, category: input.category, comment: input.comment, rate: input.rate });
        return redirectWithNotice(c, '/ratings', `Rated product #${row.objId}: ${input.rate} for ${categoryLabel(input.category).toLowerCase()}.`);
      } catch (error) {
        const failed = failedSave(error, values);
        if (!failed) throw error;
        return ratingsPage(c, user, failed);
      }
    }),
  )
  .get('/ratings/:id/edit', userPage((c, user) => editPage(c, user, idParam(c))))
  .post(
    '/ratings/:id',
    userPage(async (c, user) => {
      const id = idParam(c);
      const fields = await FormFields.of(c);
      const values = { rate: fields.one('rate'), comment: fields.raw('comment') };
      try {
        const changes = ratingUpdateForm.parse(values, { error: formMessages });
        await updateOwnRating(ratingDeps(c), user.id, id, changes);
        return redirectWithNotice(c, '/ratings', 'Rating saved.');
      } catch (error) {
        const failed = failedSave(error, values);
        if (!failed) throw error;
        // Re-drawn only for the owner: editPage answers 404 for anyone else's id.
        return editPage(c, user, id, failed);
      }
    }),
  )
  .post(
    '/ratings/:id/delete',
    userPage(async (c, user) => {
      await hideOwnRating(ratingDeps(c), user.id, idParam(c));
      return redirectWithNotice(c, '/ratings', 'Rating deleted.');
    }),
  );
