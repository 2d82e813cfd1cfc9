/**
 * Why a batch line ended without an answer: the `error` of its line in the error file, one per
 * cause, so every line that never ran says the same thing for the same reason.
 */
import type { LineResult } from '../../db/batch-store.ts';

function errorResult(code: string, message: string): LineResult {
  return { response: null, error: { code, message } };
}

export const lineErrors = {
  cancelled: errorResult('batch_cancelled', 'The batch was cancelled before this line ran.'),
  expired: errorResult('batch_expired', 'The batch expired before this line could run.'),
  quota: errorResult('insufficient_quota', 'The tenant ran out of money before this line ran.'),
  revoked: errorResult('invalid_api_key', "The batch's API key was revoked before this line ran."),
  interrupted: errorResult(
    'batch_line_interrupted',
    'The gateway running this line stopped before its answer was stored; it was not run again.',
  ),
} as const;
