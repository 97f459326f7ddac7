// Small wrappers over WebCrypto (available in workerd and Node alike).

const encoder = new TextEncoder();

export function toHex(bytes: ArrayBuffer | Uint8Array): string {
  return Array.from(bytes instanceof Uint8Array ? bytes : new Uint8Array(bytes), (byte) =>
    byte.toString(16).padStart(2, '0'),
  ).join('');
}

export function toBase64(bytes: Uint8Array): string {
  let binary = '';
  for (const byte of bytes) binary += String.fromCharCode(byte);
  return btoa(binary);
}

export function fromBase64(value: string): Uint8Array {
  const binary = atob(value);
  return Uint8Array.from(binary, (char) => char.charCodeAt(0));
}

export async function sha256Hex(value: string | Uint8Array): Promise<string> {
  const data = typeof value === 'string' ? encoder.encode(value) : value;
  return toHex(await crypto.subtle.digest('SHA-256', data));
}

export async function hmacSha256Hex(secret: string, message: Uint8Array | ArrayBuffer): Promise<string> {
  return hmacSha256HexWithKey(await hmacKey(secret), message);
}

/** An HMAC-SHA256 signing key (not extractable) for hmacSha256HexWithKey. */
export function hmacKey(secret: string): Promise<CryptoKey> {
  return crypto.subtle.importKey('raw', encoder.encode(secret), { name: 'HMAC', hash: 'SHA-256' }, false, ['sign']);
}

export async function hmacSha256HexWithKey(key: CryptoKey, message: Uint8Array | ArrayBuffer): Promise<string> {
  return toHex(await crypto.subtle.sign('HMAC', key, message));
}

/** Compares two strings in time that depends only on their lengths. */
export function constantTimeEqual(a: string, b: string): boolean {
  const left = encoder.encode(a);
  const right = encoder.encode(b);
  // Compare against itself when lengths differ, so the work done does not depend on where they differ.
  const other = left.length === right.length ? right : left;
  let difference = left.length === right.length ? 0 : 1;
  for (let i = 0; i < left.length; i++) difference |= left[i]! ^ other[i]!;
  return difference === 0;
}

/** A random token from the CSPRNG: `bytes` bytes, base64url without padding. */
export function randomToken(bytes = 32): string {
  const data = crypto.getRandomValues(new Uint8Array(bytes));
  return toBase64(data).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
}

const NONCE_BYTES = 12;

async function aesKey(key: Uint8Array): Promise<CryptoKey> {
  return crypto.subtle.importKey('raw', key, { name: 'AES-GCM' }, false, ['encrypt', 'decrypt']);
}

/** AES-256-GCM with a fresh random nonce; the result is base64(nonce ‖ ciphertext ‖ tag), one column. */
export async function encryptSecret(key: Uint8Array, plaintext: string): Promise<string> {
  const nonce = crypto.getRandomValues(new Uint8Array(NONCE_BYTES));
  const sealed = new Uint8Array(await crypto.subtle.encrypt({ name: 'AES-GCM', iv: nonce }, await aesKey(key), encoder.encode(plaintext)));
  const out = new Uint8Array(NONCE_BYTES + sealed.length);
  out.set(nonce);
  out.set(sealed, NONCE_BYTES);
  return toBase64(out);
}

export class DecryptionError extends Error {
  constructor() {
    super('stored secret cannot be decrypted with SECURITY_KEY');
    this.name = 'DecryptionError';
  }
}

export async function decryptSecret(key: Uint8Array, stored: string): Promise<string> {
  try {
    const data = fromBase64(stored);
    if (data.length <= NONCE_BYTES + 16) throw new DecryptionError();
    const plain = await crypto.subtle.decrypt(
      { name: 'AES-GCM', iv: data.subarray(0, NONCE_BYTES) },
      await aesKey(key),
      data.subarray(NONCE_BYTES),
    );
    return new TextDecoder().decode(plain);
  } catch {
    throw new DecryptionError();
  }
}
