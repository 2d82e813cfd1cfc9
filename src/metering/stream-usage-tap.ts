/**
 * Watches an OpenAI stream event by event as it is relayed: whether it ended with [DONE], the
 * usage the backend reported, and the text delivered to the client (for counting when the
 * backend reports nothing or the stream is cut; held within a bound, see delivered-text-buffer).
 * When the gateway itself asked the backend for usage, the usage-only chunk is withheld from a
 * client that did not ask for it.
 */
import { deliveredTexts } from './delivered-text.ts';
import {
  createDeliveredTextBuffer,
  type DeliveredText,
  type DeliveredTextBuffer,
} from './delivered-text-buffer.ts';
import { type ReportedUsage, readReportedUsage } from './usage.ts';

export type StreamUsageTap = {
  /** Looks at one event's data; false means the event must not reach the client. */
  inspect(data: string): boolean;
  readonly sawDone: boolean;
  readonly reported: ReportedUsage | undefined;
  /** Events that carried delivered text. */
  readonly contentEventCount: number;
  /** Everything delivered so far: tokens counted from text already let go, and the rest. */
  delivered(): DeliveredText;
  /** Counts what was delivered since the last count (a checkpoint); the tokens counted so far. */
  countDelivered(): number | Promise<number>;
};

export type StreamUsageTapOptions = {
  withholdUsageEvents: boolean;
  /** Delivered text held before the older part is counted and let go. */
  deliveredTextCharsMax: number;
  /** Counts delivered text in the stream's encoding. */
  countTokens: (text: string) => Promise<number>;
  /** Counts a short delivered text at once (undefined when too long, or not offered). */
  countShortText?: (text: string) => number | undefined;
};

/**
 * A class rather than an object of closures: one tap lives as long as its stream, and its methods
 * are shared by all of them (an arrow per method per stream costs ~100 bytes, ~360 under tsx).
 */
class EventTap implements StreamUsageTap {
  sawDone = false;
  reported: ReportedUsage | undefined = undefined;
  contentEventCount = 0;
  readonly #withholdUsageEvents: boolean;
  readonly #texts: DeliveredTextBuffer;

  constructor(options: StreamUsageTapOptions) {
    this.#withholdUsageEvents = options.withholdUsageEvents;
    this.#texts = createDeliveredTextBuffer({
      charsMax: options.deliveredTextCharsMax,
      countTokens: options.countTokens,
      ...(options.countShortText === undefined ? {} : { countShortText: options.countShortText }),
    });
  }

  inspect(data: string): boolean {
    if (data === '[DONE]') {
      this.sawDone = true;
      return true;
    }
    let parsed: unknown;
    try {
      parsed = JSON.parse(data);
    } catch {
      return true;
    }
    const usage = readReportedUsage(parsed);
    const delivered = deliveredTexts(parsed);
    // An empty delta (chat's opening `{role, content: ''}` chunk, a finish chunk) is no output.
    if (delivered.some((text) => text !== '')) {
      this.contentEventCount += 1;
      for (const text of delivered) {
        this.#texts.append(text);
      }
    }
    if (usage === undefined) {
      return true;
    }
    this.reported = usage;
    const choices = (parsed as { choices?: unknown }).choices;
    const usageOnly = !Array.isArray(choices) || choices.length === 0;
    return !(this.#withholdUsageEvents && usageOnly);
  }

  delivered(): DeliveredText {
    return this.#texts.current();
  }

  countDelivered(): number | Promise<number> {
    return this.#texts.countHeld();
  }
}

export function createStreamUsageTap(options: StreamUsageTapOptions): StreamUsageTap {
  return new EventTap(options);
}
