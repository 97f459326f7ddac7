// Agreements: /agreement (users read and accept), /admin/agreement (admins publish and edit).
import { createRoute, z } from '@hono/zod-openapi';
import { currentUser } from '../http/caller.ts';
import { agreementDeps } from '../http/deps.ts';
import { createRouter } from '../http/router.ts';
import { authErrorResponses, errorResponses, ErrorBodySchema, idParam, jsonContent, userSecurity } from '../http/openapi.ts';
import {
  acceptAgreement,
  createAgreement,
  getAcceptance,
  getAgreement,
  MAX_AGREEMENT_NAME_LENGTH,
  MAX_AGREEMENT_TEXT_LENGTH,
  toAgreementView,
  toUserAgreementView,
  updateAgreement,
} from '../services/agreements.ts';
import { noNul } from '../services/inputs/text.ts';
import { itemEnvelope, Timestamp } from './responses.ts';

// ---- shapes -------------------------------------------------------------------------------------

const codePoints = (value: string) => [...value].length;

/** Non-blank text of at most `max` characters (Unicode code points, as JSON Schema counts them). */
const boundedText = (max: number) =>
  noNul(z.string().refine((value) => value.trim().length > 0, 'must not be empty'))
    .refine((value) => codePoints(value) <= max, `must be at most ${max} characters`)
    .openapi({ minLength: 1, maxLength: max });

const Name = boundedText(MAX_AGREEMENT_NAME_LENGTH).openapi({ example: 'Terms of service' });
const Text = boundedText(MAX_AGREEMENT_TEXT_LENGTH).openapi({ example: 'By deploying you agree to…' });

const Agreement = z
  .object({
    id: z.number().int(),
    name: z.string(),
    text: z.string(),
    created_at: Timestamp,
    updated_at: Timestamp,
  })
  .openapi('Agreement');

const UserAgreement = z
  .object({
    id: z.number().int(),
    agrt_id: z.number().int().openapi({ description: 'The accepted agreement' }),
    user_id: z.string(),
    created_at: Timestamp.openapi({ description: 'When the user accepted it' }),
    updated_at: Timestamp,
  })
  .openapi('UserAgreement');

const NewAgreement = z.object({ name: Name, text: Text }).openapi('NewAgreement');

const AgreementUpdate = z
  .object({
    name: Name.optional().openapi({ description: 'Absent keeps the name' }),
    text: Text,
  })
  .openapi('AgreementUpdate');

const AgreementAcceptance = z
  .object({
    agrt_id: z
      .number()
      .int('must be an integer')
      .min(1, 'must be a positive integer')
      .max(2_147_483_647, 'is out of range')
      .openapi({ description: 'The agreement to accept', example: 1 }),
  })
  .openapi('AgreementAcceptance');

const params = z.object({ id: idParam });

const jsonBody = <T extends z.ZodType>(schema: T) => ({ required: true, content: { 'application/json': { schema } } });

// ---- routes -------------------------------------------------------------------------------------

const tags = ['agreements'];
/** Users, and API clients acting for their owner. */
const userOrClientSecurity: Array<Record<string, string[]>> = [{ bearer: [] }, { hmacClient: [], hmacSignature: [] }];

const accept = createRoute({
  method: 'post',
  path: '/agreement',
  tags,
  summary: 'Accept (sign) an agreement',
  security: userSecurity,
  request: { body: jsonBody(AgreementAcceptance) },
  responses: {
    201: jsonContent(itemEnvelope(UserAgreement), 'Accepted'),
    409: jsonContent(ErrorBodySchema, 'The caller has accepted this agreement already'),
    ...authErrorResponses,
    ...errorResponses,
  },
});

const get = createRoute({
  method: 'get',
  path: '/agreement/{id}',
  tags,
  summary: 'Read an agreement',
  security: userOrClientSecurity,
  request: { params },
  responses: {
    200: jsonContent(itemEnvelope(Agreement), 'The agreement'),
    ...authErrorResponses,
    ...errorResponses,
  },
});

const accepted = createRoute({
  method: 'get',
  path: '/agreement/accepted/{id}',
  tags,
  summary: 'The caller’s acceptance of an agreement (404 when not accepted)',
  security: userSecurity,
  request: { params },
  responses: {
    200: jsonContent(itemEnvelope(UserAgreement), 'Accepted, and when'),
    ...authErrorResponses,
    ...errorResponses,
  },
});

const adminCreate = createRoute({
  method: 'post',
  path: '/admin/agreement',
  tags,
  summary: 'Admin: publish an agreement',
  security: userSecurity,
  request: { body: jsonBody(NewAgreement) },
  responses: {
    201: jsonContent(itemEnvelope(Agreement), 'Created'),
    ...authErrorResponses,
    ...errorResponses,
  },
});

const adminUpdate = createRoute({
  method: 'put',
  path: '/admin/agreement/{id}',
  tags,
  summary: 'Admin: replace an agreement’s text (and its name, if given)',
  security: userSecurity,
  request: { params, body: jsonBody(AgreementUpdate) },
  responses: {
    200: jsonContent(itemEnvelope(Agreement), 'Updated'),
    ...authErrorResponses,
    ...errorResponses,
  },
});

const adminGet = createRoute({
  method: 'get',
  path: '/admin/agreement/{id}',
  tags,
  summary: 'Admin: read an agreement',
  security: userSecurity,
  request: { params },
  responses: {
    200: jsonContent(itemEnvelope(Agreement), 'The agreement'),
    ...authErrorResponses,
    ...errorResponses,
  },
});

// ---- handlers -----------------------------------------------------------------------------------


export const agreementRoutes = createRouter()
  .openapi(accept, async (c) => {
    const row = await acceptAgreement(agreementDeps(c), currentUser(c).id, c.req.valid('json').agrt_id);
    return c.json({ message: 'Accepted', item: toUserAgreementView(row) }, 201);
  })
  .openapi(get, async (c) => c.json({ message: 'OK', item: toAgreementView(await getAgreement(agreementDeps(c), c.req.valid('param').id)) }, 200))
  .openapi(accepted, async (c) => {
    const row = await getAcceptance(agreementDeps(c), currentUser(c).id, c.req.valid('param').id);
    return c.json({ message: 'OK', item: toUserAgreementView(row) }, 200);
  })
  .openapi(adminCreate, async (c) => c.json({ message: 'Created', item: toAgreementView(await createAgreement(agreementDeps(c), c.req.valid('json'))) }, 201))
  .openapi(adminUpdate, async (c) => {
    const row = await updateAgreement(agreementDeps(c), c.req.valid('param').id, c.req.valid('json'));
    return c.json({ message: 'Updated', item: toAgreementView(row) }, 200);
  })
  .openapi(adminGet, async (c) => c.json({ message: 'OK', item: toAgreementView(await getAgreement(agreementDeps(c), c.req.valid('param').id)) }, 200));
