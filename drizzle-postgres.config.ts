import { defineConfig } from 'drizzle-kit';

/** The PostgreSQL store's migrations (TOKENBANK_DB=postgres://...); drizzle.config.ts is SQLite's. */
export default defineConfig({
  dialect: 'postgresql',
  schema: './src/db/postgres-schema.ts',
  out: './drizzle-postgres',
});
