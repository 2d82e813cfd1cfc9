/**
 * tokenbank's own view of its memory, read from its Prometheus page (GET /metrics, no
 * credentials): V8 heap used and total, memory outside the heap, and open sockets. Beside RSS it
 * tells a leak (heap or sockets that keep growing) from memory the allocator merely kept.
 */

export type GatewayMemory = {
  heapUsedBytes: number;
  heapTotalBytes: number;
  externalBytes: number;
  openSockets: number;
};

const metricsTimeoutMs = 5_000;

function sample(page: string, name: string): number {
  const match = new RegExp(`^${name}(?:\\{[^}]*\\})? (\\S+)$`, 'm').exec(page);
  return match?.[1] === undefined ? Number.NaN : Number(match[1]);
}

/** The largest reading of each figure over all replicas; NaN where none could be read. */
export async function readGatewayMemory(origins: readonly string[]): Promise<GatewayMemory> {
  const pages = await Promise.all(
    origins.map(async (origin) => {
      try {
        const response = await fetch(`${origin}/metrics`, {
          signal: AbortSignal.timeout(metricsTimeoutMs),
        });
        return response.ok ? await response.text() : '';
      } catch {
        return '';
      }
    }),
  );
  const largest = (name: string) => Math.max(...pages.map((page) => sample(page, name)));
  return {
    heapUsedBytes: largest('tokenbank_nodejs_heap_size_used_bytes'),
    heapTotalBytes: largest('tokenbank_nodejs_heap_size_total_bytes'),
    externalBytes: largest('tokenbank_nodejs_external_memory_bytes'),
    openSockets: Math.max(
      ...pages.map((page) => sample(page, 'tokenbank_nodejs_active_handles\\{type="Socket"\\}')),
    ),
  };
}
