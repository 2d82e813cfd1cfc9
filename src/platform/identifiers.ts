/**
 * Identifiers and secrets. Ids carry a type prefix (`ten_`, `key_`, ...) so a stray id in a log
 * says what it is; secrets carry the credential prefix of API.md (`tbk-`, `tbp-`, `tba-`) so
 * leaked credentials can be recognised and scanned for. Web Crypto exists on every runtime.
 */

const alphabet = 'abcdefghijklmnopqrstuvwxyz0123456789';

/**
 * Random bytes are drawn from the system a pool at a time: one getRandomValues call per id cost
 * more than the rest of the id's work (each call crosses into the runtime and allocates).
 */
const randomPoolBytes = 4096;
let randomPool = new Uint8Array(0);
let randomPoolOffset = 0;

function nextRandomByte(): number {
  if (randomPoolOffset >= randomPool.length) {
    randomPool = crypto.getRandomValues(new Uint8Array(randomPoolBytes));
    randomPoolOffset = 0;
  }
  const byte = randomPool[randomPoolOffset] as number;
  // A byte is used once: wiped as it is taken, so the pool never hands out the same one twice.
  randomPool[randomPoolOffset] = 0;
  randomPoolOffset += 1;
  return byte;
}

/** Secrets take fresh bytes of their own: none of theirs waits in a pool in memory. */
function freshRandomBytes(): () => number {
  const bytes = crypto.getRandomValues(new Uint8Array(256));
  let offset = 0;
  return () => {
    if (offset >= bytes.length) {
      crypto.getRandomValues(bytes);
      offset = 0;
    }
    const byte = bytes[offset] as number;
    offset += 1;
    return byte;
  };
}

function randomText(length: number, nextByte: () => number): string {
  let text = '';
  // Bytes of 252 and above are skipped: 252 = 7 * 36, so every character is equally likely.
  while (text.length < length) {
    const byte = nextByte();
    if (byte < 252) {
      text += alphabet[byte % alphabet.length];
    }
  }
  return text;
}

export type IdPrefix =
  | 'ten'
  | 'key'
  | 'prv'
  | 'bkd'
  | 'lse'
  | 'prc'
  | 'mtp'
  | 'req'
  | 'adm'
  | 'cpn'
  | 'gw'
  /** A batch (`batch_…`, as OpenAI names them); its lines' request ids are `{batch id}:{custom_id}`. */
  | 'batch'
  /** A Responses API answer and its output message, named as OpenAI names them. */
  | 'resp'
  | 'msg';

export function newId(prefix: IdPrefix): string {
  return `${prefix}_${randomText(20, nextRandomByte)}`;
}

/** Prefixes of the OpenAI objects the gateway makes, spelled as OpenAI spells them. */
export type OpenAIIdPrefix = 'file-';

/**
 * An id in OpenAI's own shape (`file-…`): tools that tell objects apart by OpenAI's prefixes
 * recognise ours. 24 characters of a 36-letter alphabet: about 124 bits, never guessed.
 */
export function newOpenAIId(prefix: OpenAIIdPrefix): string {
  return `${prefix}${randomText(24, nextRandomByte)}`;
}

export type SecretPrefix = 'tbk' | 'tbp' | 'tba';

/** 40 characters of a 36-letter alphabet: about 206 bits. */
export function newSecret(prefix: SecretPrefix): string {
  return `${prefix}-${randomText(40, freshRandomBytes())}`;
}

/** Compares two strings in time that depends only on their lengths. */
export function constantTimeEqual(left: string, right: string): boolean {
  let difference = left.length ^ right.length;
  const length = Math.max(left.length, right.length);
  for (let index = 0; index < length; index += 1) {
    difference |= (left.charCodeAt(index) || 0) ^ (right.charCodeAt(index) || 0);
  }
  return difference === 0;
}

/** SHA-256 of a text as lowercase hex; the runtime may pass a faster synchronous one. */
export type HashText = (text: string) => Promise<string>;

export const webCryptoSha256: HashText = async (text) => {
  const digest = await crypto.subtle.digest('SHA-256', new TextEncoder().encode(text));
  return Array.from(new Uint8Array(digest), (byte) => byte.toString(16).padStart(2, '0')).join('');
};
