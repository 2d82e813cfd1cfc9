/**
 * The port the console's built client (dist/console: script, style sheet) is read through, so the
 * gateway serves it the same way on every runtime: Node reads the files from disk
 * (runtime/node/disk-console-assets.ts); Workers can answer from its assets binding. The core
 * never touches a file system.
 */

export type ConsoleAsset = { body: Uint8Array; contentType: string };

export type ConsoleAssets = {
  /** One built asset by its file name (`console.js`), or undefined when there is none. */
  read(name: string): Promise<ConsoleAsset | undefined>;
};

/** The names a built console has: a plain file name with a known extension, nothing else. */
const assetNamePattern = /^[a-z0-9][a-z0-9-]*\.(js|css|map)$/;

const contentTypes: Record<string, string> = {
  js: 'text/javascript; charset=utf-8',
  css: 'text/css; charset=utf-8',
  map: 'application/json; charset=utf-8',
};

/** The content type of an asset name, or undefined when the name is not one an asset may have. */
export function consoleAssetContentType(name: string): string | undefined {
  const extension = assetNamePattern.exec(name)?.[1];
  return extension === undefined ? undefined : contentTypes[extension];
}

/** A reader with no assets: a runtime that has no built console (the page then says so). */
export const noConsoleAssets: ConsoleAssets = { read: async () => undefined };
