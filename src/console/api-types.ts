/**
 * The parts of the API's JSON the console reads (docs/API.md), typed so every page is checked
 * against them. Money fields are decimal strings and stay strings.
 */

export type List<Item> = {
  object: 'list';
  data: Item[];
  has_more?: boolean;
  next_cursor?: string | null;
};

export type AccountCoupon = {
  id: string;
  kind: 'compute' | 'storage' | 'transport';
  program: string;
  amount: string;
  remaining: string;
  held: string;
  paid: string;
  coverage_bps: number;
  starts_at: string;
  expires_at: string | null;
};

export type Account = {
  tenant_id: string;
  balance: string;
  holds: string;
  currency: string;
  coupons: AccountCoupon[];
  usage_today: { requests: number; input_tokens: number; output_tokens: number; cost: string };
};

export type UsageRecord = {
  request_id: string;
  created_at: string;
  model: string;
  region: string | null;
  input_tokens: number | null;
  cached_input_tokens: number | null;
  output_tokens: number | null;
  cost: string;
};

export type ApiKey = {
  id: string;
  name: string | null;
  key_prefix: string;
  models: string[] | null;
  status: string;
  created_at: string;
};

export type KeyList = List<ApiKey> & { allow_key_management: boolean };

export type IssuedKey = ApiKey & { key: string };

export type Batch = {
  id: string;
  endpoint: string;
  status: string;
  created_at: number;
  request_counts: { total: number; completed: number; failed: number };
  cost: string;
};

export type Lease = {
  id: string;
  model: string;
  region: string;
  accelerators: number;
  starts_at: string;
  ends_at: string;
  status: string;
  cost: string;
};

export type Backend = {
  id: string;
  provider_id: string;
  url: string;
  region: string;
  models: string[];
  slots: number;
  state: string;
  in_flight: number;
  latency_ewma_ms: number | null;
  routing: { scraped: { running: number | null; waiting: number | null } | null } | null;
};

export type Earnings = List<{
  backend_id: string;
  model: string;
  requests: number;
  earned: string;
}> & {
  total_earned: string;
  total_paid: string;
  unpaid: string;
  currency: string;
};

export type Coupon = AccountCoupon & { status: string };

export type Tenant = {
  id: string;
  name: string;
  home_region: string | null;
  allow_key_management: boolean;
  balance?: string;
  holds?: string;
  currency: string;
  coupons?: Coupon[];
  created_at: string;
};

export type Offpeak = { start: string; end: string; timezone: string; multiplier_bps: number };

export type Price = {
  model: string;
  version: number;
  region: string | null;
  input: string;
  cached_input: string;
  output: string;
  card_hour: string | null;
  currency: string;
  effective_at: string;
  offpeak: Offpeak | null;
};

export type Program = { program: string; coupons?: number };

export type StatementAmounts = {
  coupons: number;
  granted: string;
  used: string;
  expired: string;
  remaining: string;
  requests: number;
  copaid_value: string;
};

export type Statement = {
  program: string;
  currency: string;
  from: string;
  to: string;
  data: (StatementAmounts & { tenant_id: string; tenant_name: string | null; kind: string })[];
  totals: (StatementAmounts & { kind: string })[];
  grand_total: StatementAmounts;
  reconciliation: { ok: boolean; problems: string[] };
};

export type LedgerCheck = {
  ok: boolean;
  problems: string[];
  accounts: number;
  transactions: number;
};

export type AuditEvent = {
  id: number;
  created_at: string;
  actor: string;
  action: string;
  entity_type: string;
  entity_id: string | null;
};
