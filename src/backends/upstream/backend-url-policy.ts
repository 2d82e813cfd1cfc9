/**
 * Which backend URLs a provider may register. A provider's URL is fetched by the gateway, so a
 * URL aimed at loopback, a private network, link-local space or a cloud metadata service would
 * let a provider reach inside the operator's network (SSRF). Those are refused unless the
 * operator allows private backends; DNS names are resolved and every address they give is checked.
 */

/** Resolves a host name to its addresses; the runtime supplies it. */
export type ResolveHost = (hostName: string) => Promise<string[]>;

export type BackendUrlCheck = { ok: true; url: string } | { ok: false; message: string };

const metadataHostNames = new Set(['metadata.google.internal', 'metadata', 'instance-data']);

export async function checkBackendUrl(
  text: string,
  options: { allowPrivate: boolean; resolveHost: ResolveHost },
): Promise<BackendUrlCheck> {
  const parsed = parseBaseUrl(text);
  if (!parsed.ok) {
    return parsed;
  }
  const url = parsed.url.href.replace(/\/$/, '');
  if (options.allowPrivate) {
    return { ok: true, url };
  }
  const hostName = hostNameOf(parsed.url);
  if (
    metadataHostNames.has(hostName) ||
    hostName === 'localhost' ||
    hostName.endsWith('.localhost')
  ) {
    return refused(hostName);
  }
  const addresses = isIpLiteral(hostName)
    ? [hostName]
    : await resolveOrNothing(hostName, options.resolveHost);
  // A name that does not resolve gets the same answer as a private one: two different answers
  // would let a provider map the operator's internal DNS names through registration.
  if (addresses.length === 0 || addresses.some((address) => isNonPublicAddress(address))) {
    return refused(hostName);
  }
  return { ok: true, url };
}

/**
 * Whether a URL registered earlier points at a non-public address now (the operator turned
 * private backends off since, or its name moved). A name that does not resolve right now is not
 * refused for it: the connection-time check still stands between it and the network.
 */
export async function pointsAtNonPublicAddress(
  text: string,
  resolveHost: ResolveHost,
): Promise<boolean> {
  const hostName = hostNameOf(new URL(text));
  if (
    metadataHostNames.has(hostName) ||
    hostName === 'localhost' ||
    hostName.endsWith('.localhost')
  ) {
    return true;
  }
  const addresses = isIpLiteral(hostName)
    ? [hostName]
    : await resolveOrNothing(hostName, resolveHost);
  return addresses.some((address) => isNonPublicAddress(address));
}

function hostNameOf(url: URL): string {
  return url.hostname.replace(/^\[|\]$/g, '').toLowerCase();
}

function refused(hostName: string): BackendUrlCheck {
  return {
    ok: false,
    message: `backend host ${hostName} does not resolve to public addresses only; loopback, private, link-local and metadata addresses need TOKENBANK_ALLOW_PRIVATE_BACKENDS=1 from the operator`,
  };
}

function parseBaseUrl(text: string): { ok: true; url: URL } | { ok: false; message: string } {
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    return { ok: false, message: 'url must be an absolute http(s) URL' };
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    return { ok: false, message: 'url must use http or https' };
  }
  if (url.username !== '' || url.password !== '') {
    return { ok: false, message: 'url must not carry credentials; use api_key' };
  }
  if (url.search !== '' || url.hash !== '') {
    return { ok: false, message: 'url must not have a query or fragment' };
  }
  if (!/\/v1\/?$/.test(url.pathname)) {
    return { ok: false, message: 'url must be an OpenAI-compatible base URL ending in /v1' };
  }
  return { ok: true, url };
}

async function resolveOrNothing(hostName: string, resolveHost: ResolveHost): Promise<string[]> {
  try {
    return await resolveHost(hostName);
  } catch {
    return [];
  }
}

function isIpLiteral(hostName: string): boolean {
  return parseIpv4(hostName) !== undefined || hostName.includes(':');
}

/** The four octets of a dotted IPv4 address, or undefined. */
function parseIpv4(text: string): number[] | undefined {
  const parts = text.split('.');
  if (parts.length !== 4) {
    return undefined;
  }
  const octets = parts.map((part) => (/^\d{1,3}$/.test(part) ? Number(part) : Number.NaN));
  return octets.every((octet) => octet >= 0 && octet <= 255) ? octets : undefined;
}

export function isNonPublicAddress(address: string): boolean {
  const octets = parseIpv4(address);
  if (octets) {
    return isNonPublicIpv4(octets);
  }
  return isNonPublicIpv6(address.toLowerCase());
}

/** Azure's WireServer: a host-local metadata endpoint at a public-looking address. */
const wireServerAddress = '168.63.129.16';

function isNonPublicIpv4(octets: number[]): boolean {
  const [first = 0, second = 0, third = 0] = octets;
  return (
    first === 0 ||
    first === 10 ||
    first === 127 ||
    (first === 100 && second >= 64 && second <= 127) ||
    (first === 169 && second === 254) ||
    (first === 172 && second >= 16 && second <= 31) ||
    (first === 192 && second === 0 && third === 0) || // IETF protocol assignments
    (first === 192 && second === 88 && third === 99) || // 6to4 relay anycast
    (first === 192 && second === 168) ||
    (first === 198 && (second === 18 || second === 19)) ||
    first >= 224 ||
    octets.join('.') === wireServerAddress
  );
}

function isNonPublicIpv6(address: string): boolean {
  const groups = expandIpv6(address);
  if (!groups) {
    // Not an address we can read: refusing is the safe answer.
    return true;
  }
  const [first = 0] = groups;
  const allZeroBeforeLast = groups.slice(0, 7).every((group) => group === 0);
  if (allZeroBeforeLast && ((groups[7] ?? 0) === 0 || groups[7] === 1)) {
    return true; // :: and ::1
  }
  const isMappedIpv4 = groups.slice(0, 5).every((group) => group === 0) && groups[5] === 0xffff;
  const isTranslatedIpv4 =
    groups.slice(0, 4).every((group) => group === 0) && groups[4] === 0xffff && groups[5] === 0;
  const isCompatibleIpv4 = groups.slice(0, 6).every((group) => group === 0);
  const isNat64 = first === 0x64 && groups[1] === 0xff9b;
  if (isMappedIpv4 || isTranslatedIpv4 || isCompatibleIpv4 || isNat64) {
    return isNonPublicIpv4(octetsOf(groups[6] ?? 0, groups[7] ?? 0));
  }
  if (first === 0x2002) {
    // 6to4 carries an IPv4 address in its second and third groups: 2002:0a00:0001:: is 10.0.0.1.
    return isNonPublicIpv4(octetsOf(groups[1] ?? 0, groups[2] ?? 0));
  }
  return (
    (first === 0x2001 && groups[1] === 0) || // Teredo 2001::/32 tunnels to an IPv4 address
    (first & 0xfe00) === 0xfc00 || // unique local fc00::/7
    (first & 0xffc0) === 0xfe80 || // link-local fe80::/10
    (first & 0xffc0) === 0xfec0 || // site-local fec0::/10 (deprecated, still routable inside)
    (first & 0xff00) === 0xff00 // multicast
  );
}

function octetsOf(high: number, low: number): number[] {
  return [high >> 8, high & 0xff, low >> 8, low & 0xff];
}

/** Eight 16-bit groups of an IPv6 address (with an embedded IPv4 tail allowed), or undefined. */
function expandIpv6(address: string): number[] | undefined {
  const text = withIpv4TailAsHex(address.split('%')[0] ?? '');
  const halves = text.split('::');
  if (halves.length > 2) {
    return undefined;
  }
  const toGroups = (half: string | undefined) =>
    half === undefined || half === '' ? [] : half.split(':').map(parseHexGroup);
  const head = toGroups(halves[0]);
  const rest = toGroups(halves[1]);
  const zeroCount = halves.length === 2 ? 8 - head.length - rest.length : 0;
  if (zeroCount < 0) {
    return undefined;
  }
  const groups = [...head, ...new Array<number>(zeroCount).fill(0), ...rest];
  if (groups.length !== 8 || groups.some((group) => Number.isNaN(group))) {
    return undefined;
  }
  return groups;
}

/** '::ffff:10.0.0.1' -> '::ffff:a00:1', so one parser reads both spellings. */
function withIpv4TailAsHex(text: string): string {
  const lastColon = text.lastIndexOf(':');
  const octets = parseIpv4(text.slice(lastColon + 1));
  if (!octets) {
    return text;
  }
  const [a = 0, b = 0, c = 0, d = 0] = octets;
  const high = ((a << 8) | b).toString(16);
  const low = ((c << 8) | d).toString(16);
  return `${text.slice(0, lastColon + 1)}${high}:${low}`;
}

function parseHexGroup(group: string): number {
  return /^[0-9a-f]{1,4}$/.test(group) ? Number.parseInt(group, 16) : Number.NaN;
}
