/**
 * The ResolveHost port on Workers, which have no resolver of their own: the A and AAAA records
 * of a name from Cloudflare's DNS-over-HTTPS JSON API, so the backend URL policy judges the
 * addresses a name points at exactly as on Node. A failed lookup answers no address, which the
 * policy refuses like a private one.
 */
import type { ResolveHost } from '../../backends/upstream/backend-url-policy.ts';

const dohUrl = 'https://cloudflare-dns.com/dns-query';

type DohAnswer = { Answer?: { type: number; data: string }[] };

/** DNS record types: A and AAAA. */
const addressTypes = new Set([1, 28]);

async function lookUp(hostName: string, type: 'A' | 'AAAA'): Promise<string[]> {
  const response = await fetch(`${dohUrl}?name=${encodeURIComponent(hostName)}&type=${type}`, {
    headers: { accept: 'application/dns-json' },
  });
  if (!response.ok) {
    return [];
  }
  const answer = (await response.json()) as DohAnswer;
  return (answer.Answer ?? [])
    .filter((record) => addressTypes.has(record.type))
    .map((record) => record.data);
}

export const resolveWithDnsOverHttps: ResolveHost = async (hostName) => {
  try {
    const [v4, v6] = await Promise.all([lookUp(hostName, 'A'), lookUp(hostName, 'AAAA')]);
    return [...v4, ...v6];
  } catch {
    return [];
  }
};
