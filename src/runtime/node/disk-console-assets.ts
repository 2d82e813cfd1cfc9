/**
 * The console's built client read from disk: dist/console/ of the package (written by
 * `npm run build:console`), each file read once and then served from memory. A missing file is
 * read again on the next request, so a console built while the gateway runs is picked up.
 */
import { readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import {
  type ConsoleAsset,
  type ConsoleAssets,
  consoleAssetContentType,
} from '../../gateway/console/console-assets.ts';

/** dist/console/ of this package: three folders above src/runtime/node/. */
export const packageConsoleFolder = fileURLToPath(
  new URL('../../../dist/console/', import.meta.url),
);

export function diskConsoleAssets(folder: string = packageConsoleFolder): ConsoleAssets {
  const read = new Map<string, ConsoleAsset>();
  return {
    async read(name) {
      const contentType = consoleAssetContentType(name);
      if (contentType === undefined) {
        return undefined;
      }
      const cached = read.get(name);
      if (cached !== undefined) {
        return cached;
      }
      try {
        const asset = { body: new Uint8Array(await readFile(`${folder}/${name}`)), contentType };
        read.set(name, asset);
        return asset;
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code === 'ENOENT') {
          return undefined;
        }
        throw error;
      }
    },
  };
}
