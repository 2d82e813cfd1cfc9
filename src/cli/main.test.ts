import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { usage } from './main.ts';

const sourceRoot = join(import.meta.dirname, '..');

function sourceFiles(folder: string): string[] {
  return readdirSync(folder, { withFileTypes: true }).flatMap((entry) => {
    const path = join(folder, entry.name);
    if (entry.isDirectory()) {
      return sourceFiles(path);
    }
    return entry.name.endsWith('.ts') && !entry.name.endsWith('.test.ts') ? [path] : [];
  });
}

describe('tokenbank --help', () => {
  it('lists every TOKENBANK_ environment variable the sources read', () => {
    const names = new Set(
      sourceFiles(sourceRoot).flatMap(
        (path) => readFileSync(path, 'utf8').match(/\bTOKENBANK_[A-Z0-9_]+\b/g) ?? [],
      ),
    );
    // Sanity: the search does find the variables (a broken search would pass vacuously).
    expect(names.has('TOKENBANK_DB')).toBe(true);
    expect(names.has('TOKENBANK_PROVIDER_TOKEN')).toBe(true);
    const listed = new Set(
      usage.match(/^ {2}(TOKENBANK_[A-Z0-9_]+)/gm)?.map((line) => line.trim()),
    );
    expect([...names].filter((name) => !listed.has(name))).toEqual([]);
  });
});
