import { describe, expect, it } from 'vitest';
import {
  type LedgerFigures,
  type ProgramFigureSet,
  type ProgramFigures,
  reconcileProgramFigures,
} from './program-figures.ts';
import {
  listPrograms,
  mergeProgramListings,
  mergeProgramSummaries,
  summarizeProgram,
} from './program-statement.ts';

const range = { fromMs: 1_000, toMs: 2_000 };

/** A program's figures whose records and ledger agree, unless `ledger` says otherwise. */
function figures(
  tenantId: string,
  kind: ProgramFigures['kind'],
  records: Partial<Omit<ProgramFigures, 'ledger'>>,
  ledger: Partial<LedgerFigures> = {},
): ProgramFigures {
  const grantedMicro = records.grantedMicro ?? 0n;
  const usedMicro = records.usedMicro ?? 0n;
  const opening = ledger.openingMicro ?? 0n;
  const closing = opening + grantedMicro - usedMicro - (ledger.expiredMicro ?? 0n);
  return {
    program: 'gov',
    tenantId,
    kind,
    coupons: 1,
    requests: 0,
    copaidMicro: 0n,
    ...records,
    grantedMicro,
    usedMicro,
    ledger: {
      grantedMicro,
      usedMicro,
      voidedMicro: 0n,
      expiredMicro: 0n,
      openingMicro: opening,
      closingMicro: closing,
      netMicro: closing,
      storedMicro: closing,
      heldMicro: 0n,
      ...ledger,
    },
  };
}

const set: ProgramFigureSet = {
  figures: [
    figures('ten_b', 'transport', { grantedMicro: 1_000_000n }),
    figures(
      'ten_b',
      'compute',
      { grantedMicro: 3_000_000n, usedMicro: 2_000_000n, requests: 1, copaidMicro: 2_000_000n },
      { expiredMicro: 1_000_000n },
    ),
    figures('ten_a', 'compute', {
      grantedMicro: 5_000_000n,
      usedMicro: 5_000_000n,
      requests: 2,
      copaidMicro: 7_000_000n,
    }),
    figures(
      'ten_a',
      'storage',
      { usedMicro: 500_000n, requests: 1, copaidMicro: 7_000_000n },
      {
        openingMicro: 2_000_000n,
      },
    ),
    // Nothing moved and no coupon by the period's end: not a line.
    { ...figures('ten_c', 'compute', {}), coupons: 0 },
    // Another program's figures are not this statement's.
    { ...figures('ten_a', 'compute', { grantedMicro: 9_000_000n }), program: 'promo' },
  ],
  // Tenant a's storage request is one of its compute requests: counted once in the grand total.
  requestTotals: [
    { program: 'gov', tenantId: 'ten_a', requests: 2, copaidMicro: 7_000_000n },
    { program: 'gov', tenantId: 'ten_b', requests: 1, copaidMicro: 2_000_000n },
    { program: 'promo', tenantId: 'ten_a', requests: 9, copaidMicro: 9n },
  ],
};

describe('summarizeProgram', () => {
  it('has a line per tenant and kind, in tenant then kind order, with what remains', () => {
    const summary = summarizeProgram('gov', range, set);
    expect(summary.lines.map((line) => `${line.tenantId}/${line.kind}`)).toEqual([
      'ten_a/compute',
      'ten_a/storage',
      'ten_b/compute',
      'ten_b/transport',
    ]);
    expect(summary.lines[1]).toEqual({
      tenantId: 'ten_a',
      kind: 'storage',
      coupons: 1,
      openingMicro: 2_000_000n,
      grantedMicro: 0n,
      usedMicro: 500_000n,
      expiredMicro: 0n,
      voidedMicro: 0n,
      remainingMicro: 1_500_000n,
      requests: 1,
      copaidMicro: 7_000_000n,
    });
  });

  it('totals each kind, and counts a request once in the grand total', () => {
    const summary = summarizeProgram('gov', range, set);
    expect(summary.totals.map((total) => [total.kind, total.tenants, total.grantedMicro])).toEqual([
      ['compute', 2, 8_000_000n],
      ['storage', 1, 0n],
      ['transport', 1, 1_000_000n],
    ]);
    expect(summary.grandTotal).toMatchObject({
      tenants: 2,
      coupons: 4,
      grantedMicro: 9_000_000n,
      usedMicro: 7_500_000n,
      expiredMicro: 1_000_000n,
      remainingMicro: 2_500_000n,
      requests: 3,
      copaidMicro: 9_000_000n,
    });
    expect(summary.reconciliation).toEqual({ ok: true, problems: [] });
  });

  it("shows one tenant's lines and totals when asked", () => {
    const summary = summarizeProgram('gov', range, set, 'ten_b');
    expect(summary.lines.map((line) => line.kind)).toEqual(['compute', 'transport']);
    expect(summary.grandTotal).toMatchObject({ tenants: 1, requests: 1, copaidMicro: 2_000_000n });
  });
});

describe('reconcileProgramFigures', () => {
  it('names each way the records and the ledger disagree', () => {
    const broken = figures(
      'ten_a',
      'compute',
      { grantedMicro: 5_000_000n, usedMicro: 1_000_000n },
      { grantedMicro: 4_000_000n, usedMicro: 1_500_000n, storedMicro: 1n },
    );
    expect(reconcileProgramFigures([broken])).toEqual([
      'program gov, tenant ten_a, compute: coupons granted 5.00, grant transfers 4.00',
      'program gov, tenant ten_a, compute: usage records say coupons paid 1.00, coupon transfers to requests 1.50',
      'program gov, tenant ten_a, compute: coupon balances are 0.000001, their transfers add up to 4.00',
    ]);
    const summary = summarizeProgram('gov', range, { figures: [broken], requestTotals: [] });
    expect(summary.reconciliation.ok).toBe(false);
  });
});

describe('listPrograms', () => {
  it('lists each program with its coupons, tenants and face value, per kind', () => {
    expect(listPrograms(set.figures)).toEqual([
      {
        program: 'gov',
        coupons: 4,
        tenants: 2,
        grantedMicro: 9_000_000n,
        kinds: {
          compute: { coupons: 2, tenants: 2, grantedMicro: 8_000_000n },
          storage: { coupons: 1, tenants: 1, grantedMicro: 0n },
          transport: { coupons: 1, tenants: 1, grantedMicro: 1_000_000n },
        },
      },
      {
        program: 'promo',
        coupons: 1,
        tenants: 1,
        grantedMicro: 9_000_000n,
        kinds: { compute: { coupons: 1, tenants: 1, grantedMicro: 9_000_000n } },
      },
    ]);
  });
});

/** The set as each tenant's own store would hold it: its figures and request totals alone. */
function partsByTenant(): ProgramFigureSet[] {
  const tenants = [...new Set(set.figures.map((figure) => figure.tenantId))];
  return tenants.map((tenantId) => ({
    figures: set.figures.filter((figure) => figure.tenantId === tenantId),
    requestTotals: set.requestTotals.filter((row) => row.tenantId === tenantId),
  }));
}

describe('statements and program lists merged from the parts of disjoint tenants', () => {
  it('answer what one store holding every part answers', () => {
    const parts = partsByTenant();
    for (const tenantId of [undefined, 'ten_b']) {
      const merged = mergeProgramSummaries(
        'gov',
        range,
        // A part that never granted a coupon of the program answers nothing, as a store does.
        [...parts.map((part) => summarizeProgram('gov', range, part, tenantId)), undefined],
      );
      expect(merged).toEqual(summarizeProgram('gov', range, set, tenantId));
    }
    expect(mergeProgramSummaries('gov', range, [undefined, undefined])).toBeUndefined();
    expect(mergeProgramListings(parts.map((part) => listPrograms(part.figures)))).toEqual(
      listPrograms(set.figures),
    );
  });

  it('join the reconciliation problems of every part', () => {
    const broken = figures('ten_z', 'compute', { grantedMicro: 5n }, { grantedMicro: 4n });
    const merged = mergeProgramSummaries('gov', range, [
      summarizeProgram('gov', range, set),
      summarizeProgram('gov', range, { figures: [broken], requestTotals: [] }),
    ]);
    expect(merged?.reconciliation).toEqual({
      ok: false,
      problems: [
        'program gov, tenant ten_z, compute: coupons granted 0.000005, grant transfers 0.000004',
      ],
    });
    expect(merged?.lines.at(-1)?.tenantId).toBe('ten_z');
  });
});
