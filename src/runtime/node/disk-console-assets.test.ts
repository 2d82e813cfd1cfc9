import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { diskConsoleAssets } from './disk-console-assets.ts';

let folder: string | undefined;

afterEach(() => {
  if (folder !== undefined) {
    rmSync(folder, { recursive: true, force: true });
  }
});

describe('the console assets on disk', () => {
  it('reads a built asset with its type, and one built after the first miss', async () => {
    folder = mkdtempSync(join(tmpdir(), 'tokenbank-console-assets-'));
    const assets = diskConsoleAssets(folder);
    expect(await assets.read('console.js')).toBeUndefined();
    writeFileSync(join(folder, 'console.js'), 'export {};');
    const asset = await assets.read('console.js');
    expect(asset?.contentType).toBe('text/javascript; charset=utf-8');
    expect(new TextDecoder().decode(asset?.body)).toBe('export {};');
  });

  it('never reads a name that is not an asset name', async () => {
    folder = mkdtempSync(join(tmpdir(), 'tokenbank-console-assets-'));
    writeFileSync(join(folder, 'secret.txt'), 'no');
    const assets = diskConsoleAssets(join(folder, 'dist'));
    expect(await assets.read('../secret.txt')).toBeUndefined();
    expect(await assets.read('secret.txt')).toBeUndefined();
  });
});
