/**
 * The ledger's model-based property suite (support/ledger-property-suite.ts) on the Node stores,
 * SQLite and PostgreSQL.
 */
import { describeLedgerProperties } from './support/ledger-property-suite.ts';
import { ledgerStores } from './support/ledger-stores.ts';

describeLedgerProperties(ledgerStores());
