/**
 * Identifiers and secrets. Ids carry a type prefix (`ten_`, `key_`, ...) so a stray id in a log
 * says what it is; secrets carry the credential prefix of API.md (`tbk-`, `tbp-`, `tba-`) so
 * leaked credentials can be recognised and scanned for. Web Crypto exists on every runtime.
 */

const alphabet = 'abcdefghijklmnopqrstuvwxyz0123456789';

function randomText(length: number): string {
  let text = '';
  // Bytes of 252 and above are skipped: 252 = 7 * 36, so every character is equally likely.
  while (text.length < length) {
    for (const byte of crypto.getRandomValues(new Uint8Array(length))) {
      if (byte < 252 && text.length < length) {
        text += alphabet[byte % alphabet.length];
      }
    }
  }
  return text;
}

export type IdPrefix = 'ten' | 'key' | 'prv' | 'bkd' | 'prc' | 'req' | 'adm' | 'cpn' | 'gw';

export function newId(prefix: IdPrefix): string {
  return `${prefix}_${randomText(20)}`;
}

export type SecretPrefix = 'tbk' | 'tbp' | 'tba';

/** 40 characters of a 36-letter alphabet: about 206 bits. */
export function newSecret(prefix: SecretPrefix): string {
  return `${prefix}-${randomText(40)}`;
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
