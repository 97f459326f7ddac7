// The install service's signature on its progress callbacks (POST /webhooks/install):
// X-Install-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256(INSTALL_WEBHOOK_SECRET, "<t>." + raw body)>.
// A t more than INSTALL_SIGNATURE_MAX_SKEW_SECONDS from the server clock is refused, so a captured
// request cannot be sent again later; within the window the body's hash dedupes it (the route's
// receipt key, deployments.ts applyProgress). The old form (sha256=<HMAC of the body>) is refused.
import { unauthorized } from '../errors.ts';
import { constantTimeEqual, hmacSha256Hex, sha256Hex } from './crypto.ts';

export const INSTALL_SIGNATURE_MAX_SKEW_SECONDS = 300;
/** Receipts of a body are kept as duplicates this long: past it, any signature of that body is stale anyway (QStash's too). */
export const BODY_RECEIPT_WINDOW_SECONDS = 2 * INSTALL_SIGNATURE_MAX_SKEW_SECONDS;

const headerForm = /^t=(\d{1,12}),v1=([0-9a-fA-F]{64})$/;

function signedBytes(t: string, body: Uint8Array): Uint8Array {
  const prefix = new TextEncoder().encode(`${t}.`);
  const message = new Uint8Array(prefix.length + body.length);
  message.set(prefix);
  message.set(body, prefix.length);
  return message;
}

/** The header's value for a body signed at `t` (unix seconds). */
export async function installSignatureHeader(secret: string, body: Uint8Array | ArrayBuffer, t: number): Promise<string> {
  return `t=${t},v1=${await hmacSha256Hex(secret, signedBytes(String(t), new Uint8Array(body)))}`;
}

/** Checks X-Install-Signature over the raw bytes as sent; throws a 401 saying what is wrong. */
export async function verifyInstallSignature(secret: string, header: string, body: Uint8Array | ArrayBuffer, nowMs = Date.now()): Promise<void> {
  const match = headerForm.exec(header.trim());
  if (!match) throw unauthorized('X-Install-Signature must be t=<unix seconds>,v1=<hex HMAC-SHA256 of "<t>.<body>"> (the sha256= form is refused)');
  const [, t, mac] = match as unknown as [string, string, string];
  if (Math.abs(Math.floor(nowMs / 1000) - Number(t)) > INSTALL_SIGNATURE_MAX_SKEW_SECONDS) {
    throw unauthorized(`X-Install-Signature: t is more than ${INSTALL_SIGNATURE_MAX_SKEW_SECONDS} s from the server clock`);
  }
  const expected = await hmacSha256Hex(secret, signedBytes(t, new Uint8Array(body)));
  if (!constantTimeEqual(expected, mac.toLowerCase())) throw unauthorized('Invalid X-Install-Signature');
}

/** The receipt key of a signed body: the same bytes again (a replay, or a retry) are one message. */
export async function bodyReceiptKey(body: Uint8Array | ArrayBuffer): Promise<string> {
  return `body-${await sha256Hex(new Uint8Array(body))}`;
}
