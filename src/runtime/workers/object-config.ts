/**
 * The configuration a Durable Object runs by: objects get the Worker's bindings as their `env`,
 * so they read the same TOKENBANK_* variables the Worker does and keep the same limits.
 */
import { type Config, parseConfig } from '../../config.ts';

export function objectConfig(env: unknown): Config {
  const parsed = parseConfig((env ?? {}) as Record<string, string | undefined>);
  if (!parsed.ok) {
    throw new Error(parsed.message);
  }
  return parsed.config;
}
