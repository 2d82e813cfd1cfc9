import { describe, expect, it } from 'vitest';
import { parseConfig } from './config.ts';

describe('parseConfig', () => {
  it('uses the documented defaults', () => {
    const result = parseConfig({});
    expect(result.ok).toBe(true);
    if (!result.ok) {
      return;
    }
    expect(result.config.port).toBe(8787);
    expect(result.config.host).toBe('127.0.0.1');
    expect(result.config.database).toBe('./data/tokenbank.db');
    expect(result.config.currency).toBe('CNY');
    expect(result.config.allowPrivateBackends).toBe(false);
    expect(result.config.limits.requestBodyBytesMax).toBe(4 * 1024 * 1024);
  });

  it('lets flags win over the environment', () => {
    const result = parseConfig(
      { TOKENBANK_PORT: '9000', TOKENBANK_DB: '/tmp/a.db' },
      { port: 9100 },
    );
    expect(result.ok && result.config.port).toBe(9100);
    expect(result.ok && result.config.database).toBe('/tmp/a.db');
  });

  it('reads the private-backend switch', () => {
    const result = parseConfig({ TOKENBANK_ALLOW_PRIVATE_BACKENDS: '1' });
    expect(result.ok && result.config.allowPrivateBackends).toBe(true);
  });

  it('reads the provider-side switches, off by default', () => {
    const defaults = parseConfig({});
    expect(defaults.ok && defaults.config.autoApproveBackends).toBe(false);
    expect(defaults.ok && defaults.config.allowForeignMetricsHosts).toBe(false);
    const result = parseConfig({
      TOKENBANK_AUTO_APPROVE_BACKENDS: '1',
      TOKENBANK_ALLOW_FOREIGN_METRICS_HOSTS: 'true',
    });
    expect(result.ok && result.config.autoApproveBackends).toBe(true);
    expect(result.ok && result.config.allowForeignMetricsHosts).toBe(true);
  });

  it('refuses an upload limit above what a tenant may hold', () => {
    const result = parseConfig({
      TOKENBANK_LIMITS: '{"fileUploadBytesMax": 2048, "fileBytesPerTenantMax": 1024}',
    });
    expect(result.ok).toBe(false);
    expect(!result.ok && result.message).toContain('fileBytesPerTenantMax');
  });

  it('refuses scraped load that goes stale before the next scrape', () => {
    const result = parseConfig({ TOKENBANK_LIMITS: '{"metricsScrapeIntervalMs": 5000}' });
    expect(result.ok).toBe(false);
    expect(!result.ok && result.message).toContain('metricsStaleMs');
    const slower = parseConfig({
      TOKENBANK_LIMITS: '{"metricsScrapeIntervalMs": 5000, "metricsStaleMs": 15000}',
    });
    expect(slower.ok).toBe(true);
  });

  it('refuses a usage page or range default above its maximum', () => {
    const result = parseConfig({
      TOKENBANK_LIMITS: '{"usagePageSizeDefault": 500, "usagePageSizeMax": 100}',
    });
    expect(result.ok).toBe(false);
    expect(!result.ok && result.message).toContain('usagePageSizeMax');
  });

  it('names the variable of an invalid setting', () => {
    const result = parseConfig({ TOKENBANK_ADMIN_TOKEN: 'short' });
    expect(result.ok).toBe(false);
    expect(!result.ok && result.message).toContain('TOKENBANK_ADMIN_TOKEN');
  });

  it('overrides single limits from TOKENBANK_LIMITS and keeps the other defaults', () => {
    const result = parseConfig({ TOKENBANK_LIMITS: '{"ownerSilentMs": 1500, "retryCountMax": 0}' });
    expect(result.ok && result.config.limits.ownerSilentMs).toBe(1500);
    expect(result.ok && result.config.limits.retryCountMax).toBe(0);
    expect(result.ok && result.config.limits.requestBodyBytesMax).toBe(4 * 1024 * 1024);
  });

  it('refuses TOKENBANK_LIMITS that is not JSON or names an out-of-range limit', () => {
    expect(parseConfig({ TOKENBANK_LIMITS: '{oops' }).ok).toBe(false);
    expect(parseConfig({ TOKENBANK_LIMITS: '{"retryCountMaximum": 1}' }).ok).toBe(false);
    const result = parseConfig({ TOKENBANK_LIMITS: '{"retryCountMax": 99}' });
    expect(!result.ok && result.message).toContain('TOKENBANK_LIMITS');
  });

  it('reads Redis and its key prefix, refusing a prefix that is not a plain key part', () => {
    const defaults = parseConfig({});
    expect(defaults.ok && defaults.config.redisUrl).toBeUndefined();
    expect(defaults.ok && defaults.config.redisPrefix).toBe('tokenbank:');
    const result = parseConfig({
      TOKENBANK_REDIS_URL: 'redis://127.0.0.1:6379/0',
      TOKENBANK_REDIS_PREFIX: 'staging:tokenbank:',
    });
    expect(result.ok && result.config.redisUrl).toBe('redis://127.0.0.1:6379/0');
    expect(result.ok && result.config.redisPrefix).toBe('staging:tokenbank:');
    const spaced = parseConfig({ TOKENBANK_REDIS_PREFIX: 'a b' });
    expect(!spaced.ok && spaced.message).toContain('TOKENBANK_REDIS_PREFIX');
  });

  it('refuses a port out of range', () => {
    expect(parseConfig({ TOKENBANK_PORT: '70000' }).ok).toBe(false);
  });
});
