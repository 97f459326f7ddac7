// A rating as POST/PUT /rating, PUT /admin/rating/{id} and the dashboard's rating forms take it.
import { z } from '@hono/zod-openapi';
import { MAX_COMMENT_LENGTH, MAX_RATE, MIN_RATE, parseRatingCategory, RATING_CATEGORIES } from '../ratings.ts';
import { noNul } from './text.ts';

const MAX_INT = 2_147_483_647;

/** Accepted in any letter case (`Application`, `application`, `deploymentspeed`…); answered as listed. */
export const RatingCategorySchema = z
  .preprocess((value) => (typeof value === 'string' ? (parseRatingCategory(value) ?? value) : value), z.enum(RATING_CATEGORIES))
  .openapi('RatingCategory', {
    type: 'string',
    enum: [...RATING_CATEGORIES],
    description: 'What is rated. Accepted in any letter case on input; answered with the name as listed.',
    example: 'DeploymentSpeed',
  });

const codePoints = (value: string) => [...value].length;

const Comment = noNul(z.string())
  .refine((value) => codePoints(value) <= MAX_COMMENT_LENGTH, `must be at most ${MAX_COMMENT_LENGTH} characters`)
  .openapi({ maxLength: MAX_COMMENT_LENGTH, example: 'Deployed in two minutes.' });

const Rate = z
  .number()
  .int('must be an integer')
  .min(MIN_RATE, `must be at least ${MIN_RATE}`)
  .max(MAX_RATE, `must be at most ${MAX_RATE}`)
  .openapi({ example: 8 });

const ObjId = z
  .number()
  .int('must be an integer')
  .min(1, 'must be a positive integer')
  .max(MAX_INT, 'is out of range')
  .openapi({ description: 'The id of the rated product', example: 1 });

export const NewRating = z
  .object({
    obj_id: ObjId,
    category: RatingCategorySchema,
    comment: Comment.nullable().optional(),
    rate: Rate,
  })
  .openapi('NewRating');

const atLeastOne = (keys: string[]) => (value: Record<string, unknown>) => keys.some((key) => value[key] !== undefined);

export const RatingUpdate = z
  .object({
    comment: Comment.nullable().optional().openapi({ description: 'Absent keeps the comment; null clears it' }),
    rate: Rate.optional(),
  })
  .refine(atLeastOne(['comment', 'rate']), 'must set at least one of comment, rate')
  .openapi('RatingUpdate');

export const AdminRatingUpdate = z
  .object({
    comment: Comment.nullable().optional().openapi({ description: 'Absent keeps the comment; null clears it' }),
    rate: Rate.optional(),
    hidden: z.boolean().optional().openapi({ description: 'true hides the rating from everyone but admins; false shows it again' }),
  })
  .refine(atLeastOne(['comment', 'rate', 'hidden']), 'must set at least one of comment, rate, hidden')
  .openapi('AdminRatingUpdate');
