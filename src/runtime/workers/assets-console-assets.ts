/**
 * The console's built client on Workers: wrangler.toml uploads dist/console/ as the Worker's
 * static assets (`[assets]`, binding ASSETS, the Worker first on every route), and the console
 * routes read a file through the binding as Node reads it from disk, so both serve the same
 * bytes under the same content-security policy. Without the binding (a test's Miniflare that
 * gives none), there is no built console and the page says so.
 */
import {
  type ConsoleAssets,
  consoleAssetContentType,
  noConsoleAssets,
} from '../../gateway/console/console-assets.ts';

/** The part of Workers' static-assets binding this reads. */
export type AssetsBinding = { fetch(request: Request): Promise<Response> };

/** The binding answers any URL of the Worker's own; the host is never contacted. */
const assetsOrigin = 'https://assets.invalid/';

export function assetsConsoleAssets(binding: AssetsBinding | undefined): ConsoleAssets {
  if (binding === undefined) {
    return noConsoleAssets;
  }
  return {
    read: async (name) => {
      const contentType = consoleAssetContentType(name);
      if (contentType === undefined) {
        return undefined;
      }
      const response = await binding.fetch(new Request(`${assetsOrigin}${name}`));
      if (!response.ok) {
        return undefined;
      }
      return { body: new Uint8Array(await response.arrayBuffer()), contentType };
    },
  };
}
