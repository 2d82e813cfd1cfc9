/**
 * Rotation of the credentials that are not client keys: the admin token and a provider's token.
 * Each answer shows the new secret once; the old one is refused at once on this replica and, over
 * the catalog change bus, on every other (within the credential cache's TTL should the bus be
 * down). The audit records the rotation without the secret.
 */
import type { Hono } from 'hono';
import type { Deps, HonoEnv } from '../../deps.ts';
import { GatewayError } from '../../errors.ts';
import { toRfc3339 } from '../../platform/clock.ts';
import { newId, newSecret } from '../../platform/identifiers.ts';
import { type RouteDoc, routeDocsFor } from '../openapi/route-doc.ts';
import { announceCatalogChange } from '../replicas/catalog-changes.ts';
import { currentProviderView } from './payout-routes.ts';
import { notFound } from './tenant-routes.ts';

export function registerAdminCredentialRoutes(app: Hono<HonoEnv>, deps: Deps): void {
  app.post('/admin/v1/tokens/rotate', async (c) => {
    if (deps.adminTokens.configured) {
      throw new GatewayError(
        'conflict',
        'The admin token is set by TOKENBANK_ADMIN_TOKEN: rotate it by changing that variable on every replica and restarting them.',
      );
    }
    const token = newSecret('tba');
    const credential = {
      id: newId('adm'),
      tokenHash: await deps.hashText(token),
      createdAtMs: deps.clock.nowMs(),
    };
    await deps.catalog.replaceAdminCredentials(credential);
    await deps.adminTokens.reload();
    await announceCatalogChange(deps, { kind: 'admin' });
    return c.json(
      {
        id: credential.id,
        object: 'admin_token',
        created_at: toRfc3339(credential.createdAtMs),
        token,
      },
      201,
    );
  });

  app.post('/admin/v1/providers/:id/token', async (c) => {
    const id = c.req.param('id');
    const token = newSecret('tbp');
    const tokenHash = await deps.hashText(token);
    if (!(await deps.catalog.replaceProviderToken(id, tokenHash))) {
      throw notFound('provider', id);
    }
    deps.providers.deleteWhere((provider) => provider.id === id);
    await announceCatalogChange(deps, { kind: 'provider', providerId: id });
    const provider = await deps.catalog.getProvider(id);
    if (!provider) {
      throw notFound('provider', id);
    }
    return c.json({ ...(await currentProviderView(deps, provider)), token }, 201);
  });
}

export function adminCredentialRouteDocs(): RouteDoc[] {
  const route = routeDocsFor('admin');
  return [
    route('post', '/admin/v1/tokens/rotate', 'Rotate the admin token (shown once)', {
      successStatus: 201,
    }),
    route('post', '/admin/v1/providers/:id/token', "Rotate a provider's token (shown once)", {
      successStatus: 201,
    }),
  ];
}
