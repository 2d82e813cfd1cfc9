/**
 * The ledger's model-based property suite (support/ledger-property-suite.ts) on the Durable Object
 * ledger of Workers, in real workerd: the same seeded sequences and model as on SQLite and
 * PostgreSQL, every call an RPC on the object.
 */
import { createDurableLedgerStore } from './support/durable-ledger-store.ts';
import { describeLedgerProperties } from './support/ledger-property-suite.ts';

describeLedgerProperties([createDurableLedgerStore()]);
