export { TenantLedgerObject } from './tenant-ledger-object.ts';

export default {
  async fetch(): Promise<Response> {
    return new Response('not yet', { status: 501 });
  },
};
