/**
 * A subsidy program's statement, as a subsidy office reads it: per tenant and coupon kind, over a
 * period, what the program's coupons held at its start, what was granted, used, expired and
 * voided during it, what remained at its end, and how many requests they co-paid and what those
 * requests cost in all; totals per kind and a grand total; and whether the figures reconcile
 * with the ledger (program-figures.ts). Also the list of programs with what each granted. Both
 * can be put together from parts that hold disjoint tenants (each tenant's Durable Object on
 * Workers). Pure: the figures come from the store.
 */
import type { TimeRange } from './ledger.ts';
import {
  type CouponFigures,
  type ProgramFigureSet,
  type ProgramFigures,
  reconcileProgramFigures,
} from './program-figures.ts';
import { type CouponKind, couponKinds } from './waterfall.ts';

export type StatementAmounts = {
  coupons: number;
  openingMicro: bigint;
  grantedMicro: bigint;
  usedMicro: bigint;
  expiredMicro: bigint;
  voidedMicro: bigint;
  /** At the period's end: opening + granted - used - expired - voided. */
  remainingMicro: bigint;
  requests: number;
  /** The whole cost of the requests the coupons paid part (or all) of. */
  copaidMicro: bigint;
};

export type ProgramStatementLine = StatementAmounts & { tenantId: string; kind: CouponKind };

export type ProgramStatementTotal = StatementAmounts & { tenants: number };

export type ProgramSummary = {
  program: string;
  range: TimeRange;
  /** Tenant by tenant (in id order), each kind in couponKinds order. */
  lines: ProgramStatementLine[];
  /** One per kind that has a line, in couponKinds order. */
  totals: (ProgramStatementTotal & { kind: CouponKind })[];
  /** Requests and their cost counted once, even when coupons of two kinds paid one. */
  grandTotal: ProgramStatementTotal;
  reconciliation: { ok: boolean; problems: string[] };
};

function lineOf(figure: ProgramFigures): ProgramStatementLine {
  const { ledger } = figure;
  return {
    tenantId: figure.tenantId,
    kind: figure.kind,
    coupons: figure.coupons,
    openingMicro: ledger.openingMicro,
    grantedMicro: figure.grantedMicro,
    usedMicro: figure.usedMicro,
    expiredMicro: ledger.expiredMicro,
    voidedMicro: ledger.voidedMicro,
    remainingMicro: ledger.closingMicro,
    requests: figure.requests,
    copaidMicro: figure.copaidMicro,
  };
}

/** A line worth printing: the tenant had coupons of the kind, or its money moved or stood. */
function hasActivity(line: ProgramStatementLine): boolean {
  return (
    line.coupons > 0 ||
    line.requests > 0 ||
    [
      line.openingMicro,
      line.grantedMicro,
      line.usedMicro,
      line.expiredMicro,
      line.voidedMicro,
      line.remainingMicro,
    ].some((amount) => amount !== 0n)
  );
}

const kindOrder = (kind: CouponKind) => couponKinds.indexOf(kind);

function compareLines(left: ProgramStatementLine, right: ProgramStatementLine): number {
  if (left.tenantId !== right.tenantId) {
    return left.tenantId < right.tenantId ? -1 : 1;
  }
  return kindOrder(left.kind) - kindOrder(right.kind);
}

function totalOf(lines: readonly ProgramStatementLine[]): ProgramStatementTotal {
  const sumOf = (pick: (line: ProgramStatementLine) => bigint) =>
    lines.reduce((sum, line) => sum + pick(line), 0n);
  return {
    tenants: new Set(lines.map((line) => line.tenantId)).size,
    coupons: lines.reduce((sum, line) => sum + line.coupons, 0),
    openingMicro: sumOf((line) => line.openingMicro),
    grantedMicro: sumOf((line) => line.grantedMicro),
    usedMicro: sumOf((line) => line.usedMicro),
    expiredMicro: sumOf((line) => line.expiredMicro),
    voidedMicro: sumOf((line) => line.voidedMicro),
    remainingMicro: sumOf((line) => line.remainingMicro),
    requests: lines.reduce((sum, line) => sum + line.requests, 0),
    copaidMicro: sumOf((line) => line.copaidMicro),
  };
}

/** One total per kind that has a line, in couponKinds order. */
function totalsByKind(lines: readonly ProgramStatementLine[]): ProgramSummary['totals'] {
  return couponKinds.flatMap((kind) => {
    const ofKind = lines.filter((line) => line.kind === kind);
    return ofKind.length === 0 ? [] : [{ kind, ...totalOf(ofKind) }];
  });
}

/**
 * The statement of `program` over `range` from the store's figures of that program and period,
 * for one tenant when `tenantId` is given. The reconciliation covers the whole program.
 */
export function summarizeProgram(
  program: string,
  range: TimeRange,
  set: ProgramFigureSet,
  tenantId?: string,
): ProgramSummary {
  const mine = set.figures.filter((figure) => figure.program === program);
  const shown = (candidate: string) => tenantId === undefined || candidate === tenantId;
  const lines = mine
    .map(lineOf)
    .filter((line) => shown(line.tenantId) && hasActivity(line))
    .sort(compareLines);
  const requestTotals = set.requestTotals.filter(
    (row) => row.program === program && shown(row.tenantId),
  );
  return summaryOf(program, range, lines, requestTotals, reconcileProgramFigures(mine));
}

/** The statement of ordered lines: their totals, the requests co-paid, the reconciliation. */
function summaryOf(
  program: string,
  range: TimeRange,
  lines: ProgramSummary['lines'],
  requestTotals: readonly { requests: number; copaidMicro: bigint }[],
  problems: string[],
): ProgramSummary {
  return {
    program,
    range,
    lines,
    totals: totalsByKind(lines),
    grandTotal: {
      ...totalOf(lines),
      requests: requestTotals.reduce((sum, row) => sum + row.requests, 0),
      copaidMicro: requestTotals.reduce((sum, row) => sum + row.copaidMicro, 0n),
    },
    reconciliation: { ok: problems.length === 0, problems },
  };
}

/**
 * The statement of `program` over `range` from the statements of parts that hold disjoint
 * tenants, as summarizeProgram answers over all their figures: a line, and a request co-paid,
 * belong to one tenant, so the lines are put in order, the totals counted again from them and
 * the reconciliations joined. Undefined when no part granted a coupon of the program.
 */
export function mergeProgramSummaries(
  program: string,
  range: TimeRange,
  parts: readonly (ProgramSummary | undefined)[],
): ProgramSummary | undefined {
  const granted = parts.filter((part): part is ProgramSummary => part !== undefined);
  if (granted.length === 0) {
    return undefined;
  }
  const lines = granted.flatMap((part) => part.lines).sort(compareLines);
  return summaryOf(
    program,
    range,
    lines,
    granted.map((part) => part.grandTotal),
    granted.flatMap((part) => part.reconciliation.problems),
  );
}

export type ProgramKindListing = { coupons: number; tenants: number; grantedMicro: bigint };

/** A program as `GET /admin/v1/programs` lists it: its coupons and their face value, per kind. */
export type ProgramListing = ProgramKindListing & {
  program: string;
  kinds: Partial<Record<CouponKind, ProgramKindListing>>;
};

function listingOf(figures: readonly CouponFigures[]): ProgramKindListing {
  return {
    coupons: figures.reduce((sum, figure) => sum + figure.coupons, 0),
    tenants: new Set(figures.map((figure) => figure.tenantId)).size,
    grantedMicro: figures.reduce((sum, figure) => sum + figure.grantedMicro, 0n),
  };
}

/** Every program that granted a coupon, by name, from the coupon figures of all time. */
export function listPrograms(figures: readonly CouponFigures[]): ProgramListing[] {
  const granted = figures.filter((figure) => figure.coupons > 0);
  const names = [...new Set(granted.map((figure) => figure.program))].sort();
  return names.map((program) => {
    const ofProgram = granted.filter((figure) => figure.program === program);
    const kinds: Partial<Record<CouponKind, ProgramKindListing>> = {};
    for (const kind of couponKinds) {
      const ofKind = ofProgram.filter((figure) => figure.kind === kind);
      if (ofKind.length > 0) {
        kinds[kind] = listingOf(ofKind);
      }
    }
    return { program, ...listingOf(ofProgram), kinds };
  });
}

function addListings(left: ProgramKindListing, right: ProgramKindListing): ProgramKindListing {
  return {
    coupons: left.coupons + right.coupons,
    tenants: left.tenants + right.tenants,
    grantedMicro: left.grantedMicro + right.grantedMicro,
  };
}

/**
 * The programs from the lists of parts that hold disjoint tenants, as listPrograms answers over
 * all their coupons: a tenant is counted in one part only, so every figure adds up.
 */
export function mergeProgramListings(
  parts: readonly (readonly ProgramListing[])[],
): ProgramListing[] {
  const merged = new Map<string, ProgramListing>();
  for (const listing of parts.flat()) {
    const earlier = merged.get(listing.program);
    if (!earlier) {
      merged.set(listing.program, listing);
      continue;
    }
    const kinds: Partial<Record<CouponKind, ProgramKindListing>> = {};
    for (const kind of couponKinds) {
      const [left, right] = [earlier.kinds[kind], listing.kinds[kind]];
      const both = left && right ? addListings(left, right) : (left ?? right);
      if (both) {
        kinds[kind] = both;
      }
    }
    merged.set(listing.program, {
      program: listing.program,
      ...addListings(earlier, listing),
      kinds,
    });
  }
  return [...merged.keys()].sort().flatMap((program) => merged.get(program) ?? []);
}
