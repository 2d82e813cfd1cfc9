/**
 * Who is signed in: the credential the user typed, kept in sessionStorage only (gone when the tab
 * closes, never in localStorage or a cookie), and which kind of user it makes them. The kind is
 * read from the credential's prefix (API.md: `tbk-` API keys, `tbp-` provider tokens; anything
 * else can only be the admin token); the gateway decides whether it is accepted.
 */

export type UserKind = 'tenant' | 'provider' | 'operator';

export type Session = { credential: string; kind: UserKind };

const credentialStorageKey = 'tokenbank.console.credential';

export function kindOfCredential(credential: string): UserKind {
  if (credential.startsWith('tbk-')) {
    return 'tenant';
  }
  return credential.startsWith('tbp-') ? 'provider' : 'operator';
}

export function storedSession(): Session | undefined {
  const credential = sessionStorage.getItem(credentialStorageKey);
  return credential === null ? undefined : { credential, kind: kindOfCredential(credential) };
}

export function keepSession(session: Session): void {
  sessionStorage.setItem(credentialStorageKey, session.credential);
}

export function forgetSession(): void {
  sessionStorage.removeItem(credentialStorageKey);
}
