/**
 * Off-peak windows: idle capacity is sold cheaper at night ("cross-cycle"). A price may name a
 * window as local "HH:MM" start and end in an IANA time zone; a window whose end is before its
 * start wraps past midnight. The multiplier in force is judged once, at admission.
 */

/** A price's off-peak window; all NULL when it has none (the catalog's price record has these). */
export type OffpeakTerms = {
  offpeakStart: string | null;
  offpeakEnd: string | null;
  offpeakTimezone: string | null;
  offpeakMultiplierBps: number | null;
};

const listMultiplierBps = 10_000;

function minutesOfDay(clock: string): number {
  const [hours = '0', minutes = '0'] = clock.split(':');
  return Number(hours) * 60 + Number(minutes);
}

/** Minutes past local midnight at `atMs` in an IANA time zone. */
export function localMinutes(atMs: number, timeZone: string): number {
  const parts = new Intl.DateTimeFormat('en-GB', {
    timeZone,
    hour: '2-digit',
    minute: '2-digit',
    hourCycle: 'h23',
  }).formatToParts(new Date(atMs));
  const hour = Number(parts.find((part) => part.type === 'hour')?.value ?? 0);
  const minute = Number(parts.find((part) => part.type === 'minute')?.value ?? 0);
  return hour * 60 + minute;
}

export function isInWindow(minute: number, startMinute: number, endMinute: number): boolean {
  if (startMinute === endMinute) {
    return false;
  }
  return startMinute < endMinute
    ? minute >= startMinute && minute < endMinute
    : minute >= startMinute || minute < endMinute;
}

/** The multiplier of a price at a moment: its off-peak one inside the window, else 10,000. */
export function multiplierAt(price: OffpeakTerms, atMs: number): number {
  const { offpeakStart, offpeakEnd, offpeakTimezone, offpeakMultiplierBps } = price;
  if (
    offpeakStart === null ||
    offpeakEnd === null ||
    offpeakTimezone === null ||
    offpeakMultiplierBps === null
  ) {
    return listMultiplierBps;
  }
  const minute = localMinutes(atMs, offpeakTimezone);
  return isInWindow(minute, minutesOfDay(offpeakStart), minutesOfDay(offpeakEnd))
    ? offpeakMultiplierBps
    : listMultiplierBps;
}

const minuteMs = 60_000;
const dayMinutes = 24 * 60;

/**
 * When the price's off-peak window next begins, at or after `atMs` (`atMs` itself while inside
 * it); undefined for a price without one. Counted in whole local minutes from now, so a daylight
 * saving change before the window moves the answer by its hour: the scheduler asks again each
 * tick, and judges the price itself at admission (multiplierAt), so that only shifts a wait.
 */
export function nextOffpeakAtMs(price: OffpeakTerms, atMs: number): number | undefined {
  const { offpeakStart, offpeakEnd, offpeakTimezone, offpeakMultiplierBps } = price;
  if (
    offpeakStart === null ||
    offpeakEnd === null ||
    offpeakTimezone === null ||
    offpeakMultiplierBps === null ||
    offpeakStart === offpeakEnd
  ) {
    return undefined;
  }
  const minute = localMinutes(atMs, offpeakTimezone);
  const startMinute = minutesOfDay(offpeakStart);
  if (isInWindow(minute, startMinute, minutesOfDay(offpeakEnd))) {
    return atMs;
  }
  const minutesUntil = (startMinute - minute + dayMinutes) % dayMinutes;
  return atMs - (atMs % minuteMs) + minutesUntil * minuteMs;
}
