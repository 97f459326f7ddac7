// Just enough of the PostgreSQL wire protocol (v3) to find message boundaries in a byte stream, for
// the local proxies: every message is Byte1 type + Int32 length (counting itself), except the
// client's first ones (StartupMessage, SSLRequest, GSSENCRequest, CancelRequest), which have no type.

export const SSL_REQUEST = 80877103;
export const GSSENC_REQUEST = 80877104;
export const CANCEL_REQUEST = 80877102;

export interface PgMessage {
  /** The type byte as a character; '' for the untyped startup-phase messages. */
  type: string;
  /** The whole message, type byte and length included. */
  bytes: Buffer;
}

/** The Int32 code of an untyped startup-phase message (the protocol version for a StartupMessage). */
export const startupCode = (message: PgMessage) => message.bytes.readInt32BE(4);

/**
 * Splits one direction of a connection into whole messages. `client` streams begin with untyped
 * messages until the StartupMessage (an SSLRequest or GSSENCRequest comes before it); `server`
 * streams are typed from the first byte (a server's one-byte answer to an SSLRequest is not handled).
 */
export class PgMessageSplitter {
  #pending = Buffer.alloc(0);
  #untyped: boolean;

  constructor(side: 'client' | 'server') {
    this.#untyped = side === 'client';
  }

  push(chunk: Buffer): PgMessage[] {
    this.#pending = this.#pending.length === 0 ? chunk : Buffer.concat([this.#pending, chunk]);
    const messages: PgMessage[] = [];
    for (;;) {
      const headerLength = this.#untyped ? 8 : 5;
      if (this.#pending.length < headerLength) break;
      const length = this.#untyped ? this.#pending.readInt32BE(0) : 1 + this.#pending.readInt32BE(1);
      if (this.#pending.length < length) break;
      const bytes = this.#pending.subarray(0, length);
      let type = '';
      if (this.#untyped) {
        const code = bytes.readInt32BE(4);
        if (code !== SSL_REQUEST && code !== GSSENC_REQUEST) this.#untyped = false;
      } else {
        type = String.fromCharCode(bytes[0]!);
      }
      messages.push({ type, bytes });
      this.#pending = this.#pending.subarray(length);
    }
    return messages;
  }

  /** Bytes of a message not complete yet. */
  get buffered(): number {
    return this.#pending.length;
  }

  /** Hands over the incomplete rest (when the stream is forwarded unparsed from now on). */
  takeRest(): Buffer {
    const rest = this.#pending;
    this.#pending = Buffer.alloc(0);
    return rest;
  }
}

/** A simple-protocol Query message. */
export function queryMessage(sql: string): Buffer {
  const text = Buffer.from(`${sql}\0`, 'utf8');
  const header = Buffer.alloc(5);
  header.write('Q', 0, 'latin1');
  header.writeInt32BE(4 + text.length, 1);
  return Buffer.concat([header, text]);
}

export const TERMINATE = Buffer.from([0x58, 0, 0, 0, 4]); // 'X'
